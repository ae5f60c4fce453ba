#include "text/html_depth.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ragline::text {
namespace {

// Tag properties (bit flags).
enum : uint16_t {
  kVoid = 1 << 0,        // never pushed
  kFormatting = 1 << 1,  // listed as an active formatting element
  kMarker = 1 << 2,      // puts a marker in that list
  kSpecial = 1 << 3,     // an ordinary end tag does not close past it
  kBoundary = 1 << 4,    // a search "in scope" stops at it
  kClosesP = 1 << 5,     // its start tag closes an open <p>
  kHeading = 1 << 6,
  kRawText = 1 << 7,   // its content is text up to its end tag
  kReopens = 1 << 8,   // a block-level special that still reopens formatting (br, img, ...)
  kIgnored = 1 << 9,   // html, head, body: merged into the existing ones
  kForeign = 1 << 10,  // svg, math: "/>" closes inside them
};

using Tag = uint32_t;

// Interns tag names; known names come with their flags.
class Tags {
 public:
  Tags() {
    auto add = [&](std::initializer_list<std::string_view> names, uint16_t flag) {
      for (std::string_view n : names) flags_[Id(n)] |= flag;
    };
    add({"area",  "base", "basefont", "bgsound", "br",   "col",  "command", "embed",  "frame", "hr",
         "image", "img",  "input",    "keygen",  "link", "meta", "param",   "source", "track", "wbr"},
        kVoid);
    add({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"},
        kFormatting);
    add({"applet", "caption", "marquee", "object", "td", "th", "template"}, kMarker);
    add({"h1", "h2", "h3", "h4", "h5", "h6"}, kHeading | kClosesP | kSpecial);
    add({"address", "article", "aside",  "blockquote", "center",     "details", "dialog",
         "dir",     "div",     "dl",     "fieldset",   "figcaption", "figure",  "footer",
         "form",    "header",  "hgroup", "hr",         "listing",    "main",    "menu",
         "nav",     "ol",      "p",      "pre",        "section",    "summary", "table",
         "ul",      "xmp",     "li",     "dd",         "dt"},
        kClosesP);
    add({"address",    "applet",   "area",    "article", "aside",   "base",      "basefont", "bgsound",
         "blockquote", "body",     "br",      "button",  "caption", "center",    "col",      "colgroup",
         "dd",         "details",  "dir",     "div",     "dl",      "dt",        "embed",    "fieldset",
         "figcaption", "figure",   "footer",  "form",    "frame",   "frameset",  "head",     "header",
         "hgroup",     "hr",       "html",    "iframe",  "img",     "input",     "li",       "link",
         "listing",    "main",     "marquee", "menu",    "meta",    "nav",       "noembed",  "noframes",
         "noscript",   "object",   "ol",      "p",       "param",   "plaintext", "pre",      "script",
         "section",    "select",   "source",  "style",   "summary", "table",     "tbody",    "td",
         "template",   "textarea", "tfoot",   "th",      "thead",   "title",     "tr",       "track",
         "ul",         "wbr",      "xmp"},
        kSpecial);
    add({"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template"}, kBoundary);
    add({"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"}, kRawText);
    add({"br", "img", "input", "area", "embed", "wbr", "keygen"}, kReopens);
    add({"html", "head", "body"}, kIgnored);
    add({"svg", "math"}, kForeign);
    for (std::string_view n : {"p", "li", "dd", "dt", "option", "optgroup", "tr", "td", "th", "tbody",
                               "thead", "tfoot", "button", "ul", "ol", "dl", "plaintext", "a", "nobr"}) {
      known_.emplace(std::string(n), Id(n));
    }
  }

  Tag Id(std::string_view name) {
    auto [it, inserted] = ids_.try_emplace(std::string(name), static_cast<Tag>(flags_.size()));
    if (inserted) flags_.push_back(0);
    return it->second;
  }
  Tag Known(std::string_view name) const { return known_.at(std::string(name)); }
  bool Is(Tag t, uint16_t flag) const { return (flags_[t] & flag) != 0; }
  size_t size() const { return flags_.size(); }

 private:
  std::unordered_map<std::string, Tag> ids_;
  std::unordered_map<std::string, Tag> known_;
  std::vector<uint16_t> flags_;
};

class Model {
 public:
  Model(Tags& tags, size_t stop_after)
      : tags_(tags),
        stop_after_(stop_after),
        p_(tags.Known("p")),
        li_(tags.Known("li")),
        dd_(tags.Known("dd")),
        dt_(tags.Known("dt")),
        option_(tags.Known("option")),
        optgroup_(tags.Known("optgroup")),
        tr_(tags.Known("tr")),
        td_(tags.Known("td")),
        th_(tags.Known("th")),
        button_(tags.Known("button")),
        ul_(tags.Known("ul")),
        ol_(tags.Known("ol")),
        dl_(tags.Known("dl")),
        tbody_(tags.Known("tbody")),
        thead_(tags.Known("thead")),
        tfoot_(tags.Known("tfoot")),
        a_(tags.Known("a")),
        nobr_(tags.Known("nobr")) {}

  size_t depth() const { return max_depth_; }
  bool over() const { return max_depth_ > stop_after_; }

  void Text() { Reconstruct(); }

  void Start(Tag tag, std::string_view attrs, bool self_closing) {
    if (tags_.Is(tag, kIgnored)) return;
    const bool foreign = in_foreign_ > 0;
    if (!foreign) ImpliedEnds(tag);
    // As the spec: phrasing content reopens closed formatting elements, block
    // elements do not (they open below them, reopened at the next text).
    if (foreign || !tags_.Is(tag, kSpecial) || tags_.Is(tag, kReopens)) Reconstruct();
    if (tags_.Is(tag, kVoid) || (foreign && self_closing)) return;
    int64_t entry = -1;
    if (tags_.Is(tag, kFormatting)) {
      entry = AddFormatting(tag, attrs);
    } else if (tags_.Is(tag, kMarker)) {
      list_.push_back(Entry{next_id_++, tag, "", false, true});
    }
    if (tags_.Is(tag, kForeign)) ++in_foreign_;
    Push(tag, entry);
  }

  void End(Tag tag) {
    if (tags_.Is(tag, kIgnored)) return;
    if (tags_.Is(tag, kFormatting) && EndFormatting(tag)) return;
    if (Open(tag) == 0) return;
    if (in_foreign_ > 0 || tags_.Is(tag, kSpecial) || tags_.Is(tag, kForeign)) {
      PopIfOpen(tag, {});
      return;
    }
    // Any other end tag: the nearest match, unless a special element is nearer.
    for (size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i].tag == tag) return PopTo(i);
      if (tags_.Is(stack_[i].tag, kSpecial)) return;
    }
  }

 private:
  struct OpenElement {
    Tag tag;
    int64_t entry;  // its entry in list_, or -1
  };
  struct Entry {
    int64_t id;
    Tag tag;
    std::string attrs;
    bool open;  // on the stack now
    bool marker;
  };

  uint32_t& Open(Tag tag) {
    if (open_.size() <= tag) open_.resize(tags_.size() + 1, 0);
    return open_[tag];
  }

  void Push(Tag tag, int64_t entry) {
    stack_.push_back(OpenElement{tag, entry});
    ++Open(tag);
    max_depth_ = std::max(max_depth_, stack_.size());
  }

  // Pops stack_[i] and everything above it. Formatting elements popped stay
  // in the list (closed) and are reopened later; a popped marker element
  // clears the list back to its marker.
  void PopTo(size_t i) {
    while (stack_.size() > i) {
      const OpenElement top = stack_.back();
      stack_.pop_back();
      --Open(top.tag);
      if (tags_.Is(top.tag, kForeign) && in_foreign_ > 0) --in_foreign_;
      if (top.entry >= 0) {
        for (size_t e = list_.size(); e-- > 0;) {
          if (list_[e].id == top.entry) {
            list_[e].open = false;
            break;
          }
        }
      }
      if (tags_.Is(top.tag, kMarker)) ClearToMarker();
    }
  }

  void ClearToMarker() {
    while (!list_.empty()) {
      const bool marker = list_.back().marker;
      list_.pop_back();
      if (marker) return;
    }
  }

  // Pops the nearest open `tag` when it is in scope (the search stops at a
  // boundary, or at one of `also`).
  bool PopIfOpen(Tag tag, std::initializer_list<Tag> also) {
    if (Open(tag) == 0) return false;
    for (size_t i = stack_.size(); i-- > 0;) {
      const Tag t = stack_[i].tag;
      if (t == tag) {
        PopTo(i);
        return true;
      }
      if (tags_.Is(t, kBoundary) || std::find(also.begin(), also.end(), t) != also.end()) return false;
    }
    return false;
  }

  void ImpliedEnds(Tag tag) {
    if (tags_.Is(tag, kClosesP)) PopIfOpen(p_, {button_});
    if (tags_.Is(tag, kHeading) && !stack_.empty() && tags_.Is(stack_.back().tag, kHeading))
      PopTo(stack_.size() - 1);
    if (tag == li_) PopIfOpen(li_, {ul_, ol_});
    if (tag == dd_ || tag == dt_) {
      if (!PopIfOpen(dd_, {dl_})) PopIfOpen(dt_, {dl_});
    }
    if ((tag == option_ || tag == optgroup_) && !stack_.empty() && stack_.back().tag == option_) {
      PopTo(stack_.size() - 1);
    }
    if (tag == optgroup_ && !stack_.empty() && stack_.back().tag == optgroup_) PopTo(stack_.size() - 1);
    if (tag == tr_ || tag == tbody_ || tag == thead_ || tag == tfoot_ || tag == td_ || tag == th_) {
      if (!PopIfOpen(td_, {tr_})) PopIfOpen(th_, {tr_});
    }
    if (tag == tr_ || tag == tbody_ || tag == thead_ || tag == tfoot_)
      PopIfOpen(tr_, {tbody_, thead_, tfoot_});
    if (tag == button_) PopIfOpen(button_, {});
  }

  int64_t AddFormatting(Tag tag, std::string_view attrs) {
    // A second <a> (or <nobr>) closes the first.
    if (tag == a_ || tag == nobr_) EndFormatting(tag);
    // Noah's Ark: at most three identical entries after the last marker.
    size_t same = 0, earliest = list_.size();
    for (size_t i = list_.size(); i-- > 0 && !list_[i].marker;) {
      if (list_[i].tag == tag && list_[i].attrs == attrs) {
        ++same;
        earliest = i;
      }
    }
    if (same >= 3) list_.erase(list_.begin() + static_cast<std::ptrdiff_t>(earliest));
    list_.push_back(Entry{next_id_, tag, std::string(attrs), true, false});
    return next_id_++;
  }

  // An end tag of a formatting element (the adoption agency, simplified):
  // its last entry leaves the list and the stack is popped to it; formatting
  // elements above it stay listed and are reopened later. False when the
  // list has no such entry (then it is an ordinary end tag).
  bool EndFormatting(Tag tag) {
    for (size_t i = list_.size(); i-- > 0 && !list_[i].marker;) {
      if (list_[i].tag != tag) continue;
      const int64_t id = list_[i].id;
      const bool open = list_[i].open;
      list_.erase(list_.begin() + static_cast<std::ptrdiff_t>(i));
      for (size_t s = stack_.size(); open && s-- > 0;) {
        if (stack_[s].entry == id) {
          stack_[s].entry = -1;
          PopTo(s);
          break;
        }
      }
      return true;
    }
    return false;
  }

  // Reopens the listed formatting elements that are closed (after the last
  // marker and the last open one).
  void Reconstruct() {
    size_t first = list_.size();
    while (first > 0 && !list_[first - 1].marker && !list_[first - 1].open) --first;
    for (size_t i = first; i < list_.size() && !over(); ++i) {
      list_[i].open = true;
      Push(list_[i].tag, list_[i].id);
    }
  }

  Tags& tags_;
  const size_t stop_after_;
  const Tag p_, li_, dd_, dt_, option_, optgroup_, tr_, td_, th_, button_, ul_, ol_, dl_, tbody_, thead_,
      tfoot_, a_, nobr_;
  std::vector<OpenElement> stack_;
  std::vector<uint32_t> open_;  // open elements per tag
  std::vector<Entry> list_;
  int64_t next_id_ = 0;
  size_t max_depth_ = 0;
  int in_foreign_ = 0;
};

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Finds "</name" (case-insensitive) from `from`; npos if absent.
size_t FindEndTag(std::string_view html, size_t from, std::string_view name) {
  for (size_t i = html.find("</", from); i != std::string_view::npos; i = html.find("</", i + 2)) {
    if (i + 2 + name.size() > html.size()) return std::string_view::npos;
    bool match = true;
    for (size_t k = 0; k < name.size() && match; ++k) match = Lower(html[i + 2 + k]) == name[k];
    if (match) return i;
  }
  return std::string_view::npos;
}

}  // namespace

size_t HtmlNestingDepth(std::string_view html, size_t stop_after) {
  Tags tags;
  Model model(tags, stop_after);
  const Tag plaintext = tags.Known("plaintext");
  size_t i = 0;
  const size_t n = html.size();
  std::string name;
  while (i < n && !model.over()) {
    if (html[i] != '<') {
      const size_t next = std::min(html.find('<', i), n);
      for (size_t k = i; k < next; ++k) {
        if (!IsSpace(html[k])) {
          model.Text();
          break;
        }
      }
      i = next;
      continue;
    }
    if (html.compare(i, 4, "<!--") == 0) {
      const size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? n : end + 3;
      continue;
    }
    if (i + 1 < n && (html[i + 1] == '!' || html[i + 1] == '?')) {
      const size_t end = html.find('>', i);
      i = end == std::string_view::npos ? n : end + 1;
      continue;
    }
    const bool end_tag = i + 1 < n && html[i + 1] == '/';
    size_t p = i + (end_tag ? 2 : 1);
    if (p >= n || !IsAsciiAlpha(html[p])) {  // a lone '<' is text
      model.Text();
      ++i;
      continue;
    }
    name.clear();
    while (p < n && !IsSpace(html[p]) && html[p] != '/' && html[p] != '>') name.push_back(Lower(html[p++]));
    // Attributes up to the closing '>', quotes respected.
    const size_t attrs_begin = p;
    char quote = 0;
    while (p < n && (quote != 0 || html[p] != '>')) {
      if (quote != 0) {
        if (html[p] == quote) quote = 0;
      } else if (html[p] == '"' || html[p] == '\'') {
        quote = html[p];
      }
      ++p;
    }
    const bool self_closing = p > attrs_begin && html[p - 1] == '/';
    const std::string_view attrs = html.substr(attrs_begin, p - attrs_begin);
    i = p < n ? p + 1 : n;
    const Tag tag = tags.Id(name);
    if (end_tag) {
      model.End(tag);
      continue;
    }
    model.Start(tag, attrs, self_closing);
    if (tag == plaintext) break;  // the rest is text
    if (tags.Is(tag, kRawText)) {
      const size_t end = FindEndTag(html, i, name);
      if (end == std::string_view::npos) break;
      i = end;  // the end tag is read next
    }
  }
  return model.depth();
}

}  // namespace ragline::text
