// HtmlNestingDepth: a linear pre-scan that bounds the work gumbo will do on
// an HTML document, so Extract can refuse a pathological one before parsing.
//
// gumbo's HTML5 tree builder walks its stack of open elements and its list
// of active formatting elements for each tag and text run, so its time grows
// with the square of how deep they get: 40,000 unclosed <div>s take 6 s,
// 200,000 more than two minutes (issue #13). This scan models the two
// structures as the HTML5 algorithm grows them: start tags push (void
// elements do not), end tags pop to their element (an end tag of a
// non-special element stops at a special one, as in the spec), the common
// implied end tags (p, li, dd/dt, option, table rows and cells, headings),
// formatting elements that misnesting closed are reopened at the next text
// or tag (with the "Noah's Ark" limit of three identical entries), and table
// cells, captions and objects are markers that scope that reopening. It
// reports the deepest the stack gets. Where it simplifies, it errs towards a
// deeper stack than gumbo's, not a shallower one.
//
// Cost: linear in the input times the depth, and it stops as soon as the
// depth passes `stop_after`, so it is bounded by the limit it checks.
//
// Thread safety: a pure function.
#pragma once

#include <cstddef>
#include <string_view>

namespace ragline::text {

// The deepest the open-element stack gets while parsing `html`, or a value
// larger than `stop_after` as soon as it passes it.
size_t HtmlNestingDepth(std::string_view html, size_t stop_after);

}  // namespace ragline::text
