#include "text/extract.h"

#include <gumbo.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>

#include "core/strings.h"
#include "text/html_depth.h"

namespace ragline::text {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

std::string_view TrimAscii(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsAsciiPunct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}
bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// `s` with every invalid UTF-8 sequence replaced by U+FFFD: for text a
// library decoded for us (gumbo turns an out-of-range numeric reference
// such as "&#xEEEEEEEE;" into bytes that are not UTF-8).
std::string ValidUtf8(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    const std::optional<size_t> bad = FindInvalidUtf8(s);
    out.append(s.substr(0, bad.value_or(s.size())));
    if (!bad) break;
    out += "\xEF\xBF\xBD";
    s.remove_prefix(*bad + 1);
  }
  return out;
}

// Removes a BOM, turns CRLF and lone CR into LF, and checks UTF-8 (offsets in
// errors are into the original bytes).
Result<std::string> NormaliseText(std::string_view bytes, bool reject_nul) {
  size_t skipped = 0;
  if (bytes.starts_with(kBom)) {
    bytes.remove_prefix(kBom.size());
    skipped = kBom.size();
  }
  if (auto bad = FindInvalidUtf8(bytes)) {
    return absl::InvalidArgumentError(StrCat("invalid UTF-8 at byte offset ", *bad + skipped));
  }
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\0' && reject_nul) {
      return absl::InvalidArgumentError(
          StrCat("NUL byte at byte offset ", i + skipped, " (binary data, not text)"));
    }
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void TrimTrailingWhitespace(std::string* s) {
  while (!s->empty() && IsAsciiSpace(s->back())) s->pop_back();
}

std::string JoinPath(const std::vector<std::pair<int, std::string>>& stack) {
  std::string path;
  for (const auto& [level, heading] : stack) {
    if (!path.empty()) path += " > ";
    path += heading;
  }
  return path;
}

// Keeps the heading stack and closes each section when the next heading (or
// the end of the text) arrives.
class SectionRecorder {
 public:
  void Heading(int level, std::string heading, size_t begin) {
    if (!sections_.empty()) sections_.back().end = static_cast<uint32_t>(begin);
    while (!stack_.empty() && stack_.back().first >= level) stack_.pop_back();
    stack_.emplace_back(level, std::move(heading));
    sections_.push_back({static_cast<uint32_t>(begin), 0, level, JoinPath(stack_)});
  }
  std::vector<Section> Finish(size_t text_size) {
    if (!sections_.empty()) sections_.back().end = static_cast<uint32_t>(text_size);
    // Headings whose text was trimmed away at the end have begin > size.
    for (auto& s : sections_) {
      s.begin = std::min<uint32_t>(s.begin, static_cast<uint32_t>(text_size));
      s.end = std::min<uint32_t>(s.end, static_cast<uint32_t>(text_size));
    }
    return std::move(sections_);
  }

 private:
  std::vector<std::pair<int, std::string>> stack_;
  std::vector<Section> sections_;
};

// Appends text while collapsing whitespace the way HTML rendering does, and
// keeps paragraph/line breaks pending until the next visible text so that
// breaks never pile up or trail.
class TextBuilder {
 public:
  // Inline text: runs of ASCII whitespace become one space.
  void Inline(std::string_view s) {
    for (char c : s) {
      if (IsAsciiSpace(c)) {
        pending_space_ = true;
      } else {
        Put(c);
      }
    }
  }
  // Preformatted text: kept verbatim (CR already normalised by the caller).
  void Verbatim(std::string_view s) {
    for (char c : s) {
      if (c == '\n') {
        ++pending_newlines_;
        pending_space_ = false;
      } else if (c == '\r') {
        continue;
      } else {
        if (IsAsciiSpace(c) && pending_newlines_ == 0 && out_.empty()) continue;
        FlushBreaks();
        out_.push_back(c);
      }
    }
  }
  void Space() { pending_space_ = true; }
  // 1: line break, 2: paragraph break.
  void Break(int newlines) { pending_newlines_ = std::max(pending_newlines_, newlines); }
  // Where the next visible byte will land: what FlushBreaks will do.
  size_t NextOffset() const {
    if (out_.empty()) return 0;
    if (pending_newlines_ > 0) {
      size_t n = out_.size();
      while (n > 0 && (out_[n - 1] == ' ' || out_[n - 1] == '\t')) --n;
      return n + static_cast<size_t>(std::min(pending_newlines_, 2));
    }
    const bool space = pending_space_ && out_.back() != '\n' && out_.back() != ' ';
    return out_.size() + (space ? 1 : 0);
  }
  std::string Finish() {
    TrimTrailingWhitespace(&out_);
    return std::move(out_);
  }

 private:
  void FlushBreaks() {
    if (!out_.empty()) {
      if (pending_newlines_ > 0) {
        TrimTrailingSpaces();
        out_.append(static_cast<size_t>(std::min(pending_newlines_, 2)), '\n');
      } else if (pending_space_ && out_.back() != '\n' && out_.back() != ' ') {
        out_.push_back(' ');
      }
    }
    pending_newlines_ = 0;
    pending_space_ = false;
  }
  void Put(char c) {
    FlushBreaks();
    out_.push_back(c);
  }
  void TrimTrailingSpaces() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\t')) out_.pop_back();
  }

  std::string out_;
  int pending_newlines_ = 0;
  bool pending_space_ = false;
};

// ---------------------------------------------------------------- Markdown

struct Delimiter {
  size_t pos;  // in the output
  size_t len;
  char ch;
  bool can_open;
  bool can_close;
  bool removed = false;
};

// Inline Markdown → text for one line (or a heading's text).
class InlineCleaner {
 public:
  std::string Clean(std::string_view s) {
    out_.clear();
    delims_.clear();
    Scan(s);
    return Resolve();
  }

 private:
  void Scan(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\\' && i + 1 < s.size() && IsAsciiPunct(s[i + 1])) {
        out_.push_back(s[i + 1]);
        i += 2;
      } else if (c == '`') {
        size_t run = RunLength(s, i, '`');
        size_t close = FindBacktickRun(s, i + run, run);
        if (close == std::string_view::npos) {
          out_.append(s.substr(i, run));
          i += run;
        } else {
          std::string_view code = s.substr(i + run, close - i - run);
          if (code.size() >= 2 && code.front() == ' ' && code.back() == ' ') code = code.substr(1, code.size() - 2);
          out_.append(code);
          i = close + run;
        }
      } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '[') {
        size_t consumed = TryLink(s, i + 1);
        if (consumed == 0) {
          out_.push_back(c);
          ++i;
        } else {
          i = i + 1 + consumed;
        }
      } else if (c == '[') {
        size_t consumed = TryLink(s, i);
        if (consumed == 0) {
          out_.push_back(c);
          ++i;
        } else {
          i += consumed;
        }
      } else if (c == '<' && s.substr(i).starts_with("<!--") && s.find("-->", i + 4) != std::string_view::npos) {
        i = s.find("-->", i + 4) + 3;  // an HTML comment on one line
      } else if (c == '<') {
        size_t consumed = TryAngle(s, i);
        if (consumed == 0) {
          out_.push_back(c);
          ++i;
        } else {
          i += consumed;
        }
      } else if (c == '*' || c == '_' || c == '~') {
        size_t run = RunLength(s, i, c);
        char before = i == 0 ? ' ' : s[i - 1];
        char after = i + run < s.size() ? s[i + run] : ' ';
        AddDelimiter(c, run, before, after);
        out_.append(run, c);
        i += run;
      } else {
        out_.push_back(c);
        ++i;
      }
    }
  }

  static size_t RunLength(std::string_view s, size_t i, char c) {
    size_t j = i;
    while (j < s.size() && s[j] == c) ++j;
    return j - i;
  }
  static size_t FindBacktickRun(std::string_view s, size_t from, size_t run) {
    size_t i = from;
    while (i < s.size()) {
      if (s[i] == '`') {
        size_t r = RunLength(s, i, '`');
        if (r == run) return i;
        i += r;
      } else {
        ++i;
      }
    }
    return std::string_view::npos;
  }

  // [text](url "title") or [text][ref] or [text][]: emits the cleaned text
  // and returns the bytes consumed from s[i] ('['), or 0 if it is no link.
  size_t TryLink(std::string_view s, size_t i) {
    int depth = 0;
    size_t close = std::string_view::npos;
    for (size_t j = i; j < s.size(); ++j) {
      if (s[j] == '\\') {
        ++j;
        continue;
      }
      if (s[j] == '[') ++depth;
      if (s[j] == ']' && --depth == 0) {
        close = j;
        break;
      }
    }
    if (close == std::string_view::npos || close + 1 >= s.size()) return 0;
    size_t end;
    if (s[close + 1] == '(') {
      int parens = 0;
      end = std::string_view::npos;
      for (size_t j = close + 1; j < s.size(); ++j) {
        if (s[j] == '(') ++parens;
        if (s[j] == ')' && --parens == 0) {
          end = j + 1;
          break;
        }
      }
    } else if (s[close + 1] == '[') {
      end = s.find(']', close + 2);
      if (end != std::string_view::npos) ++end;
    } else {
      return 0;
    }
    if (end == std::string_view::npos) return 0;
    InlineCleaner inner;
    out_.append(inner.Clean(s.substr(i + 1, close - i - 1)));
    return end - i;
  }

  // <https://x>, <a@b.c> → the address; an inline HTML tag → nothing.
  size_t TryAngle(std::string_view s, size_t i) {
    size_t close = s.find('>', i + 1);
    if (close == std::string_view::npos) return 0;
    std::string_view inner = s.substr(i + 1, close - i - 1);
    if (inner.empty() || inner.find_first_of(" \t<") != std::string_view::npos) {
      // Maybe a tag with attributes: <a href="x">, </span>, <br/>.
      size_t k = inner.starts_with('/') ? 1 : 0;
      if (k >= inner.size() || !((inner[k] >= 'a' && inner[k] <= 'z') || (inner[k] >= 'A' && inner[k] <= 'Z')))
        return 0;
      if (inner.find('<') != std::string_view::npos) return 0;
      return close - i + 1;
    }
    if (inner.find("://") != std::string_view::npos || inner.starts_with("mailto:") ||
        (inner.find('@') != std::string_view::npos && inner.find('/') == std::string_view::npos)) {
      out_.append(inner);
      return close - i + 1;
    }
    size_t k = inner.starts_with('/') ? 1 : 0;
    if (k < inner.size() && ((inner[k] >= 'a' && inner[k] <= 'z') || (inner[k] >= 'A' && inner[k] <= 'Z'))) {
      return close - i + 1;  // <b>, </i>, <br/>
    }
    return 0;
  }

  // CommonMark's flanking rules, simplified to ASCII punctuation/whitespace.
  void AddDelimiter(char c, size_t run, char before, char after) {
    if (run > 3 || (c == '~' && run != 2)) return;
    bool before_space = IsAsciiSpace(before), after_space = IsAsciiSpace(after);
    bool before_punct = IsAsciiPunct(before), after_punct = IsAsciiPunct(after);
    bool left = !after_space && (!after_punct || before_space || before_punct);
    bool right = !before_space && (!before_punct || after_space || after_punct);
    bool can_open = left, can_close = right;
    if (c == '_') {
      can_open = left && (!right || before_punct);
      can_close = right && (!left || after_punct);
      if (IsAsciiAlnum(before) && IsAsciiAlnum(after)) can_open = can_close = false;  // snake_case
    }
    if (!can_open && !can_close) return;
    delims_.push_back({out_.size(), run, c, can_open, can_close});
  }

  std::string Resolve() {
    std::vector<size_t> open;  // indices into delims_ of unmatched openers
    for (size_t k = 0; k < delims_.size(); ++k) {
      Delimiter& d = delims_[k];
      bool matched = false;
      if (d.can_close) {
        for (size_t o = open.size(); o-- > 0;) {
          Delimiter& op = delims_[open[o]];
          if (op.ch == d.ch && op.len == d.len) {
            op.removed = d.removed = true;
            open.resize(o);
            matched = true;
            break;
          }
        }
      }
      if (!matched && d.can_open) open.push_back(k);
    }
    std::string result;
    result.reserve(out_.size());
    size_t pos = 0;
    for (const Delimiter& d : delims_) {
      if (!d.removed) continue;
      result.append(out_, pos, d.pos - pos);
      pos = d.pos + d.len;
    }
    result.append(out_, pos, std::string::npos);
    return result;
  }

  std::string out_;
  std::vector<Delimiter> delims_;
};

size_t LeadingSpaces(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool IsBlank(std::string_view line) { return TrimAscii(line).empty(); }

// "---", "***", "___" (three or more, spaces allowed).
bool IsThematicBreak(std::string_view line) {
  if (LeadingSpaces(line) > 3) return false;
  std::string_view t = TrimAscii(line);
  if (t.empty() || (t[0] != '-' && t[0] != '*' && t[0] != '_')) return false;
  size_t count = 0;
  for (char c : t) {
    if (c == t[0]) {
      ++count;
    } else if (c != ' ' && c != '\t') {
      return false;
    }
  }
  return count >= 3;
}

// A setext underline: '=' → 1, '-' → 2, else 0.
int SetextLevel(std::string_view line) {
  if (LeadingSpaces(line) > 3) return 0;
  std::string_view t = TrimAscii(line);
  if (t.empty() || (t[0] != '=' && t[0] != '-')) return 0;
  for (char c : t) {
    if (c != t[0]) return 0;
  }
  return t[0] == '=' ? 1 : 2;
}

// "## Title ##" → level 2, "Title".
std::optional<std::pair<int, std::string_view>> AtxHeading(std::string_view line) {
  size_t i = LeadingSpaces(line);
  if (i > 3) return std::nullopt;
  size_t hashes = 0;
  while (i + hashes < line.size() && line[i + hashes] == '#') ++hashes;
  if (hashes == 0 || hashes > 6) return std::nullopt;
  size_t rest = i + hashes;
  if (rest < line.size() && line[rest] != ' ' && line[rest] != '\t') return std::nullopt;
  std::string_view content = TrimAscii(line.substr(rest));
  // Closing sequence: spaces then '#'s at the end.
  size_t end = content.size();
  while (end > 0 && content[end - 1] == '#') --end;
  if (end == 0) {
    content = {};
  } else if (end < content.size() && (content[end - 1] == ' ' || content[end - 1] == '\t')) {
    content = TrimAscii(content.substr(0, end));
  }
  return std::make_pair(static_cast<int>(hashes), content);
}

// ``` or ~~~ (3+), returns the fence char and length.
std::optional<std::pair<char, size_t>> FenceOpen(std::string_view line) {
  size_t i = LeadingSpaces(line);
  if (i > 3 || i >= line.size() || (line[i] != '`' && line[i] != '~')) return std::nullopt;
  char c = line[i];
  size_t n = 0;
  while (i + n < line.size() && line[i + n] == c) ++n;
  if (n < 3) return std::nullopt;
  if (c == '`' && line.substr(i + n).find('`') != std::string_view::npos) return std::nullopt;
  return std::make_pair(c, n);
}

bool IsReferenceDefinition(std::string_view line) {
  size_t i = LeadingSpaces(line);
  if (i > 3 || i >= line.size() || line[i] != '[') return false;
  size_t close = line.find("]:", i);
  return close != std::string_view::npos && close > i + 1 && line[i + 1] != '^';
}

// Table delimiter rows: |---|:---:| and friends.
bool IsTableDelimiterRow(std::string_view line) {
  std::string_view t = TrimAscii(line);
  if (t.find('-') == std::string_view::npos || t.find('|') == std::string_view::npos) return false;
  return t.find_first_not_of("|-: \t") == std::string_view::npos;
}

// Length of a list marker prefix ("- ", "* ", "12. ") after indentation, or 0.
size_t ListMarkerLength(std::string_view line) {
  size_t i = LeadingSpaces(line);
  if (i >= line.size()) return 0;
  if ((line[i] == '-' || line[i] == '*' || line[i] == '+') && i + 1 < line.size() && line[i + 1] == ' ') {
    return i + 2;
  }
  size_t d = i;
  while (d < line.size() && d - i < 9 && line[d] >= '0' && line[d] <= '9') ++d;
  if (d > i && d + 1 < line.size() && (line[d] == '.' || line[d] == ')') && line[d + 1] == ' ') return d + 2;
  return 0;
}

std::string_view Unquote(std::string_view v) {
  v = TrimAscii(v);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return v;
}

ExtractedDocument ExtractMarkdown(std::string_view text) {
  ExtractedDocument doc;
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  size_t i = 0;
  // YAML front matter.
  if (!lines.empty() && TrimAscii(lines[0]) == "---") {
    for (size_t j = 1; j < lines.size(); ++j) {
      std::string_view t = TrimAscii(lines[j]);
      if (t == "---" || t == "...") {
        for (size_t k = 1; k < j; ++k) {
          std::string_view l = lines[k];
          size_t colon = l.find(':');
          if (colon == std::string_view::npos || l.empty() || l[0] == ' ' || l[0] == '-' || l[0] == '#') continue;
          std::string key(TrimAscii(l.substr(0, colon)));
          std::string_view value = Unquote(l.substr(colon + 1));
          if (key.empty() || value.empty() || key == "content_type") continue;
          if (key == "title") doc.title = std::string(value);
          doc.metadata.emplace(std::move(key), std::string(value));
        }
        i = j + 1;
        break;
      }
    }
  }

  TextBuilder out;
  SectionRecorder sections;
  InlineCleaner inline_cleaner;
  char fence_char = 0;  // inside a fenced code block when non-zero
  size_t fence_len = 0;
  bool prev_blank = true;  // the previous source line ended a paragraph
  for (; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (fence_char != 0) {
      std::string_view t = TrimAscii(line);
      if (LeadingSpaces(line) <= 3 && t.size() >= fence_len && t.find_first_not_of(fence_char) == std::string_view::npos) {
        fence_char = 0;
        out.Break(2);
        prev_blank = true;
      } else {
        out.Verbatim(line);
        out.Break(1);
      }
      continue;
    }
    if (IsBlank(line)) {
      out.Break(2);
      prev_blank = true;
      continue;
    }
    if (auto f = FenceOpen(line)) {
      fence_char = f->first;
      fence_len = f->second;
      out.Break(2);
      continue;
    }
    if (LeadingSpaces(line) >= 4 && prev_blank) {  // indented code
      out.Verbatim(line.substr(4));
      out.Break(1);
      continue;
    }
    // Block quotes: drop the markers, keep the content.
    while (true) {
      size_t s = LeadingSpaces(line);
      if (s <= 3 && s < line.size() && line[s] == '>') {
        line = line.substr(s + 1);
        if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
      } else {
        break;
      }
    }
    std::optional<std::pair<int, std::string>> heading;
    if (auto atx = AtxHeading(line)) {
      heading.emplace(atx->first, inline_cleaner.Clean(atx->second));
    } else if (prev_blank && i + 1 < lines.size() && SetextLevel(lines[i + 1]) != 0 &&
               !IsThematicBreak(line) && ListMarkerLength(line) == 0) {
      heading.emplace(SetextLevel(lines[i + 1]), inline_cleaner.Clean(TrimAscii(line)));
      ++i;  // the underline
    }
    if (heading) {
      out.Break(2);
      // As the text will have it (whitespace runs collapsed), so that the
      // section starts with its heading.
      TextBuilder collapsed;
      collapsed.Inline(heading->second);
      std::string h = collapsed.Finish();
      if (!h.empty()) {
        sections.Heading(heading->first, h, out.NextOffset());
        if (heading->first == 1 && doc.title.empty()) doc.title = h;
        out.Inline(h);
      }
      out.Break(2);
      prev_blank = true;
      continue;
    }
    if (IsTableDelimiterRow(line)) continue;  // the header row and body rows stay together
    if (IsThematicBreak(line) || IsReferenceDefinition(line)) {
      out.Break(2);
      prev_blank = true;
      continue;
    }
    size_t marker = ListMarkerLength(line);
    std::string cleaned(TrimAscii(line.substr(0, marker)));
    if (!cleaned.empty()) cleaned.push_back(' ');
    cleaned += inline_cleaner.Clean(TrimAscii(line.substr(marker)));
    out.Break(1);
    out.Inline(cleaned);
    out.Break(1);
    prev_blank = false;
  }
  doc.text = out.Finish();
  doc.sections = sections.Finish(doc.text.size());
  return doc;
}

// -------------------------------------------------------------------- HTML

bool IsDroppedTag(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_INPUT:
    case GUMBO_TAG_AUDIO:
    case GUMBO_TAG_VIDEO:
    case GUMBO_TAG_MAP:
      return true;
    default:
      return false;
  }
}

bool IsBlockTag(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_DIR:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_HGROUP:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_HTML:
    case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_MENU:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_P:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_TBODY:
    case GUMBO_TAG_THEAD:
    case GUMBO_TAG_TFOOT:
    case GUMBO_TAG_UL:
      return true;
    default:
      return false;
  }
}

bool IsLineTag(GumboTag tag) {
  return tag == GUMBO_TAG_LI || tag == GUMBO_TAG_TR || tag == GUMBO_TAG_DT || tag == GUMBO_TAG_DD ||
         tag == GUMBO_TAG_BR || tag == GUMBO_TAG_OPTION;
}

int HeadingLevel(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

std::string_view Attribute(const GumboElement& e, const char* name) {
  const GumboAttribute* a = gumbo_get_attribute(&e.attributes, name);
  return a == nullptr ? std::string_view() : std::string_view(a->value);
}

bool IsHidden(const GumboElement& e) {
  if (gumbo_get_attribute(&e.attributes, "hidden") != nullptr) return true;
  if (AsciiLower(Attribute(e, "aria-hidden")) == "true") return true;
  std::string style = AsciiLower(Attribute(e, "style"));
  style.erase(std::remove(style.begin(), style.end(), ' '), style.end());
  return style.find("display:none") != std::string::npos;
}

// Site furniture rather than content, by the names documentation
// generators give it: navigation bars ("Next: ..., Previous: ..., Up: ..."
// in texinfo's div.header / div.nav-panel, DocBook's navheader/navfooter,
// Sphinx's related bar and sidebar, breadcrumbs) and tables of contents
// (texinfo's section-toc / mini-toc / contents, Sphinx and generic "toc"),
// and ARIA landmarks for the same (navigation, banner, contentinfo, search,
// doc-toc).
bool IsBoilerplate(const GumboElement& e) {
  static const std::set<std::string, std::less<>> kRoles = {"navigation", "banner", "contentinfo", "search",
                                                            "doc-toc"};
  static const std::set<std::string, std::less<>> kClasses = {
      "header",      "nav-panel",   "navheader",     "navfooter",   "navigation", "navbar",
      "breadcrumb",  "breadcrumbs", "section-toc",   "mini-toc",    "contents",   "shortcontents",
      "toc",         "related",     "sphinxsidebar", "footer"};
  if (kRoles.count(AsciiLower(Attribute(e, "role")))) return true;
  if (AsciiLower(Attribute(e, "id")) == "toc") return true;
  const std::string classes = AsciiLower(Attribute(e, "class"));
  for (std::string_view rest = classes; !rest.empty();) {
    const size_t space = rest.find_first_of(" \t\n");
    const std::string_view token = rest.substr(0, space);
    if (!token.empty() && kClasses.count(token)) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

bool IsElement(const GumboNode* n) { return n->type == GUMBO_NODE_ELEMENT; }

// All visible text below `root` with whitespace collapsed (iterative: pages
// can nest deeper than the stack allows).
std::string GatherText(const GumboNode* root) {
  TextBuilder b;
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
      b.Inline(ValidUtf8(n->v.text.text));
    } else if (IsElement(n)) {
      const GumboElement& e = n->v.element;
      if (n != root && (IsDroppedTag(e.tag) || IsHidden(e))) continue;
      if (e.tag == GUMBO_TAG_BR) b.Space();
      for (size_t k = e.children.length; k-- > 0;) stack.push_back(static_cast<const GumboNode*>(e.children.data[k]));
    }
  }
  return b.Finish();
}

// The first element (document order) satisfying `pred`, and how many did.
template <typename Pred>
std::pair<const GumboNode*, size_t> FindElements(const GumboNode* root, Pred pred) {
  const GumboNode* first = nullptr;
  size_t count = 0;
  std::vector<const GumboNode*> stack{root};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (!IsElement(n)) continue;
    const GumboElement& e = n->v.element;
    if (pred(e)) {
      if (first == nullptr) first = n;
      ++count;
    }
    for (size_t k = e.children.length; k-- > 0;) stack.push_back(static_cast<const GumboNode*>(e.children.data[k]));
  }
  return {first, count};
}

struct GumboOutputDeleter {
  void operator()(GumboOutput* o) const { gumbo_destroy_output(&kGumboDefaultOptions, o); }
};

ExtractedDocument ExtractHtml(std::string_view text) {
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 0;  // we do not report parse errors; do not collect them
  std::unique_ptr<GumboOutput, GumboOutputDeleter> parsed(gumbo_parse_with_options(&options, text.data(), text.size()));
  ExtractedDocument doc;
  const GumboNode* root = parsed->root;

  if (IsElement(root)) {
    std::string lang(TrimAscii(Attribute(root->v.element, "lang")));
    if (!lang.empty()) doc.metadata["lang"] = lang;
  }
  auto [title_node, n_titles] =
      FindElements(root, [](const GumboElement& e) { return e.tag == GUMBO_TAG_TITLE; });
  if (title_node != nullptr) doc.title = GatherText(title_node);
  FindElements(root, [&doc](const GumboElement& e) {
    if (e.tag != GUMBO_TAG_META) return false;
    std::string name = AsciiLower(Attribute(e, "name"));
    if (name == "description" || name == "author" || name == "keywords") {
      std::string content(TrimAscii(Attribute(e, "content")));
      if (!content.empty()) doc.metadata.emplace(name, content);
    }
    return false;
  });

  // The main content: <main> / role=main, else a lone <article>, else <body>.
  const GumboNode* content = FindElements(root, [](const GumboElement& e) {
                               return e.tag == GUMBO_TAG_MAIN || AsciiLower(Attribute(e, "role")) == "main";
                             }).first;
  if (content == nullptr) {
    auto [article, n_articles] = FindElements(root, [](const GumboElement& e) { return e.tag == GUMBO_TAG_ARTICLE; });
    if (n_articles == 1) content = article;
  }
  if (content == nullptr) {
    content = FindElements(root, [](const GumboElement& e) { return e.tag == GUMBO_TAG_BODY; }).first;
  }
  if (content == nullptr) content = root;

  TextBuilder out;
  SectionRecorder sections;
  std::string first_h1;
  // Iterative walk; a null node marks "close the element below it".
  struct Frame {
    const GumboNode* node;
    bool closing;
    int sectioning_depth;  // article/main/section ancestors
    bool pre;
  };
  std::vector<Frame> stack{{content, false, 0, false}};
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    const GumboNode* n = f.node;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
      if (f.pre) {
        out.Verbatim(ValidUtf8(n->v.text.text));
      } else {
        out.Inline(ValidUtf8(n->v.text.text));
      }
      continue;
    }
    if (!IsElement(n)) continue;  // comments, the document node's doctype
    const GumboElement& e = n->v.element;
    if (f.closing) {
      if (IsBlockTag(e.tag)) out.Break(2);
      if (IsLineTag(e.tag)) out.Break(1);
      if (e.tag == GUMBO_TAG_TD || e.tag == GUMBO_TAG_TH) out.Space();
      continue;
    }
    if (n != content && (IsDroppedTag(e.tag) || IsHidden(e) || IsBoilerplate(e))) continue;
    if ((e.tag == GUMBO_TAG_HEADER || e.tag == GUMBO_TAG_FOOTER) && f.sectioning_depth == 0 && n != content) {
      continue;  // site banner / footer
    }
    if (int level = HeadingLevel(e.tag)) {
      std::string heading = GatherText(n);
      out.Break(2);
      if (!heading.empty()) {
        sections.Heading(level, heading, out.NextOffset());
        if (level == 1 && first_h1.empty()) first_h1 = heading;
        out.Inline(heading);
      }
      out.Break(2);
      continue;
    }
    if (IsBlockTag(e.tag)) out.Break(2);
    if (IsLineTag(e.tag)) out.Break(1);
    if (e.tag == GUMBO_TAG_TD || e.tag == GUMBO_TAG_TH) out.Space();
    int depth = f.sectioning_depth +
                ((e.tag == GUMBO_TAG_ARTICLE || e.tag == GUMBO_TAG_MAIN || e.tag == GUMBO_TAG_SECTION ||
                  AsciiLower(Attribute(e, "role")) == "main")
                     ? 1
                     : 0);
    bool pre = f.pre || e.tag == GUMBO_TAG_PRE || e.tag == GUMBO_TAG_TEXTAREA;
    stack.push_back({n, true, depth, pre});
    for (size_t k = e.children.length; k-- > 0;) {
      stack.push_back({static_cast<const GumboNode*>(e.children.data[k]), false, depth, pre});
    }
  }
  doc.text = out.Finish();
  doc.sections = sections.Finish(doc.text.size());
  if (doc.title.empty()) doc.title = first_h1;
  return doc;
}

// --------------------------------------------------------------------- PDF

// Poppler reports problems through a process-wide callback; we install ours
// once and collect the messages of the current thread's extraction.
thread_local std::string* poppler_errors = nullptr;

void PopplerMessage(const std::string& message, void*) {
  if (poppler_errors != nullptr && poppler_errors->size() < 512) {
    if (!poppler_errors->empty()) *poppler_errors += "; ";
    *poppler_errors += message;
  }
}

std::string Utf8(const poppler::ustring& s) {
  poppler::byte_array bytes = s.to_utf8();
  std::string out(bytes.begin(), bytes.end());
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

// Makes poppler's text safe to use: valid UTF-8 (poppler's conversion of odd
// encodings can leave stray bytes, which become U+FFFD), LF line ends, no NULs.
std::string CleanPdfText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    std::optional<size_t> bad = FindInvalidUtf8(s.substr(i));
    size_t good = bad ? *bad : s.size() - i;
    for (size_t k = i; k < i + good; ++k) {
      char c = s[k];
      if (c == '\r') {
        if (k + 1 < s.size() && s[k + 1] == '\n') continue;
        out.push_back('\n');
      } else if (c == '\0' || c == '\f') {
        out.push_back(c == '\f' ? '\n' : ' ');
      } else {
        out.push_back(c);
      }
    }
    i += good;
    if (bad) {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Running headers and footers ("ACME Manual", "Page 3 of 40"): a line among
// a page's first two or last two non-empty lines whose shape (trimmed, each
// run of digits as one '#') is there on at least half the pages, and at
// least 3, is dropped from every page it heads or foots. Documents of fewer
// than 3 pages are left alone.
void DropRunningLines(std::vector<std::string>& pages) {
  if (pages.size() < 3) return;
  auto shape = [](std::string_view line) {
    std::string key;
    for (char c : TrimAscii(line)) {
      const bool digit = c >= '0' && c <= '9';
      if (!digit) {
        key.push_back(c);
      } else if (key.empty() || key.back() != '#') {
        key.push_back('#');
      }
    }
    return key;
  };
  // Per page: its lines, and the indexes of its edge lines.
  std::vector<std::vector<std::string_view>> lines(pages.size());
  std::vector<std::set<size_t>> edges(pages.size());
  std::map<std::string, size_t> count;
  for (size_t p = 0; p < pages.size(); ++p) {
    for (std::string_view rest = pages[p];;) {
      const size_t nl = rest.find('\n');
      lines[p].push_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    std::vector<size_t> nonempty;
    for (size_t i = 0; i < lines[p].size(); ++i) {
      if (!TrimAscii(lines[p][i]).empty()) nonempty.push_back(i);
    }
    for (size_t k = 0; k < nonempty.size() && k < 2; ++k) {
      edges[p].insert(nonempty[k]);
      edges[p].insert(nonempty[nonempty.size() - 1 - k]);
    }
    std::set<std::string> seen;
    for (size_t i : edges[p]) seen.insert(shape(lines[p][i]));
    for (const auto& key : seen) ++count[key];
  }
  const size_t threshold = std::max<size_t>(3, (pages.size() + 1) / 2);
  for (size_t p = 0; p < pages.size(); ++p) {
    std::string kept;
    bool dropped = false;
    for (size_t i = 0; i < lines[p].size(); ++i) {
      if (edges[p].count(i) && count[shape(lines[p][i])] >= threshold) {
        dropped = true;
        continue;
      }
      if (i > 0) kept += '\n';
      kept.append(lines[p][i]);
    }
    if (dropped) pages[p] = std::string(TrimAscii(kept));
  }
}

Result<ExtractedDocument> ExtractPdf(std::string_view bytes) {
  static std::once_flag install_once;
  std::call_once(install_once, [] { poppler::set_debug_error_function(&PopplerMessage, nullptr); });
  std::string errors;
  poppler_errors = &errors;
  struct Reset {
    ~Reset() { poppler_errors = nullptr; }
  } reset;
  auto describe = [&errors](std::string_view what) {
    return absl::InvalidArgumentError(
        errors.empty() ? StrCat("broken PDF: ", what) : StrCat("broken PDF: ", what, " (poppler: ", errors, ")"));
  };
  if (!bytes.starts_with("%PDF-") && bytes.substr(0, 1024).find("%PDF-") == std::string_view::npos) {
    return absl::InvalidArgumentError("not a PDF: no %PDF- header in the first 1024 bytes");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("PDF larger than 2 GiB");
  }
  try {
    std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    if (pdf == nullptr) {
      // Poppler returns null for both damage and a password it cannot open with.
      if (errors.find("ncrypt") != std::string::npos || errors.find("assword") != std::string::npos) {
        return absl::InvalidArgumentError("PDF is encrypted and needs a password");
      }
      return describe("poppler could not open it");
    }
    if (pdf->is_locked()) return absl::InvalidArgumentError("PDF is encrypted and needs a password");
    int pages = pdf->pages();
    if (pages <= 0) return describe("no pages");
    ExtractedDocument doc;
    std::vector<std::string> page_texts;
    for (int p = 0; p < pages; ++p) {
      std::unique_ptr<poppler::page> page(pdf->create_page(p));
      if (page == nullptr) return describe(StrCat("page ", p + 1, " cannot be read"));
      std::string text = CleanPdfText(
          Utf8(page->text(poppler::rectf(), poppler::page::text_layout_enum::non_raw_non_physical_layout)));
      // Trailing spaces on each line are layout noise.
      std::string tidy;
      tidy.reserve(text.size());
      for (char c : text) {
        if (c == '\n') {
          while (!tidy.empty() && (tidy.back() == ' ' || tidy.back() == '\t')) tidy.pop_back();
        }
        tidy.push_back(c);
      }
      page_texts.emplace_back(TrimAscii(tidy));
    }
    DropRunningLines(page_texts);
    for (size_t p = 0; p < page_texts.size(); ++p) {
      if (p > 0) {
        TrimTrailingWhitespace(&doc.text);
        if (!doc.text.empty()) doc.text += "\n\f\n";
      }
      doc.page_starts.push_back(static_cast<uint32_t>(doc.text.size()));
      doc.text += page_texts[p];
    }
    TrimTrailingWhitespace(&doc.text);
    for (uint32_t& start : doc.page_starts) start = std::min<uint32_t>(start, static_cast<uint32_t>(doc.text.size()));
    doc.title = std::string(TrimAscii(CleanPdfText(Utf8(pdf->get_title()))));
    doc.metadata["pages"] = StrCat(pages);
    const std::pair<const char*, poppler::ustring> fields[] = {
        {"author", pdf->get_author()},   {"subject", pdf->get_subject()},
        {"keywords", pdf->get_keywords()}, {"creator", pdf->get_creator()},
        {"producer", pdf->get_producer()},
    };
    for (const auto& [key, value] : fields) {
      std::string v(TrimAscii(CleanPdfText(Utf8(value))));
      if (!v.empty()) doc.metadata[key] = v;
    }
    return doc;
  } catch (const std::exception& e) {
    return describe(StrCat("poppler failed: ", e.what()));
  } catch (...) {
    return describe("poppler failed with an unknown exception");
  }
}

}  // namespace

std::string_view ContentTypeOf(DocumentFormat format) {
  switch (format) {
    case DocumentFormat::kPlainText: return "text/plain";
    case DocumentFormat::kMarkdown: return "text/markdown";
    case DocumentFormat::kHtml: return "text/html";
    case DocumentFormat::kPdf: return "application/pdf";
  }
  return "application/octet-stream";
}

Result<DocumentFormat> FormatFromContentType(std::string_view content_type_or_extension) {
  std::string_view raw = TrimAscii(content_type_or_extension);
  std::string_view params;
  if (size_t semi = raw.find(';'); semi != std::string_view::npos) {
    params = raw.substr(semi + 1);
    raw = TrimAscii(raw.substr(0, semi));
  }
  std::string type = AsciiLower(raw);
  if (type.starts_with('.')) type.erase(0, 1);
  // charset=... : we read UTF-8 only (ASCII is a subset).
  std::string p = AsciiLower(params);
  if (size_t cs = p.find("charset="); cs != std::string::npos) {
    std::string_view charset = Unquote(std::string_view(p).substr(cs + 8));
    charset = charset.substr(0, charset.find(';'));
    charset = TrimAscii(charset);
    if (charset != "utf-8" && charset != "utf8" && charset != "us-ascii" && charset != "ascii") {
      return absl::InvalidArgumentError(
          StrCat("unsupported charset \"", charset, "\" in content type \"", content_type_or_extension,
                 "\": only UTF-8 is accepted"));
    }
  }
  if (type == "txt" || type == "text" || type == "text/plain") return DocumentFormat::kPlainText;
  if (type == "md" || type == "markdown" || type == "text/markdown" || type == "text/x-markdown") {
    return DocumentFormat::kMarkdown;
  }
  if (type == "html" || type == "htm" || type == "xhtml" || type == "text/html" || type == "application/xhtml+xml") {
    return DocumentFormat::kHtml;
  }
  if (type == "pdf" || type == "application/pdf" || type == "application/x-pdf") return DocumentFormat::kPdf;
  return absl::UnimplementedError(StrCat("unsupported document type \"", content_type_or_extension,
                                         "\" (supported: txt, md, html, pdf)"));
}

std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;   // overlong
      if (c == 0xED) hi = 0x9F;   // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;   // overlong
      if (c == 0xF4) hi = 0x8F;   // > U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

std::string_view ExtractedDocument::HeadingPathAt(size_t offset) const {
  auto it = std::upper_bound(sections.begin(), sections.end(), offset,
                             [](size_t off, const Section& s) { return off < s.begin; });
  if (it == sections.begin()) return {};
  --it;
  return offset < it->end ? std::string_view(it->heading_path) : std::string_view();
}

Result<ExtractedDocument> Extract(std::string_view bytes, DocumentFormat format, const ExtractOptions& options) {
  if (bytes.size() > options.max_input_bytes) {
    return LimitExceededError(StrCat("document is ", bytes.size(), " bytes; the limit max_input_bytes is ",
                                     options.max_input_bytes));
  }
  if (bytes.size() > UINT32_MAX) return absl::InvalidArgumentError("document larger than 4 GiB");
  ExtractedDocument doc;
  switch (format) {
    case DocumentFormat::kPlainText: {
      ASSIGN_OR_RETURN(doc.text, NormaliseText(bytes, /*reject_nul=*/true));
      TrimTrailingWhitespace(&doc.text);
      break;
    }
    case DocumentFormat::kMarkdown: {
      ASSIGN_OR_RETURN(std::string text, NormaliseText(bytes, /*reject_nul=*/true));
      doc = ExtractMarkdown(text);
      break;
    }
    case DocumentFormat::kHtml: {
      ASSIGN_OR_RETURN(std::string text, NormaliseText(bytes, /*reject_nul=*/false));
      // gumbo's time grows with the square of the nesting: refuse deep
      // documents before it sees them (html_depth.h).
      if (const size_t depth = HtmlNestingDepth(text, options.max_html_depth);
          depth > options.max_html_depth) {
        return LimitExceededError(StrCat("HTML nests elements more than ", options.max_html_depth,
                                         " deep; the limit max_html_depth is ", options.max_html_depth));
      }
      doc = ExtractHtml(text);
      break;
    }
    case DocumentFormat::kPdf: {
      ASSIGN_OR_RETURN(doc, ExtractPdf(bytes));
      break;
    }
  }
  doc.metadata["content_type"] = std::string(ContentTypeOf(format));
  return doc;
}

Result<ExtractedDocument> Extract(std::string_view bytes, std::string_view content_type_or_extension,
                                  const ExtractOptions& options) {
  ASSIGN_OR_RETURN(DocumentFormat format, FormatFromContentType(content_type_or_extension));
  return Extract(bytes, format, options);
}

Result<ExtractedDocument> ExtractFile(const std::filesystem::path& path, const ExtractOptions& options) {
  std::string ext = path.extension().string();
  if (ext.empty()) {
    return absl::UnimplementedError(
        StrCat(path.string(), ": no file extension to tell its type (supported: txt, md, html, pdf)"));
  }
  auto format = FormatFromContentType(ext);
  if (!format.ok()) {
    return Status(format.status().code(), StrCat(path.string(), ": ", std::string(format.status().message())));
  }
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return absl::NotFoundError(StrCat(path.string(), ": not found"));
    return absl::InvalidArgumentError(StrCat(path.string(), ": ", ec.message()));
  }
  if (size > options.max_input_bytes) {
    return absl::InvalidArgumentError(StrCat(path.string(), ": file is ", size, " bytes, over the limit of ",
                                             options.max_input_bytes, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(StrCat(path.string(), ": cannot open for reading"));
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) {
    return absl::InvalidArgumentError(StrCat(path.string(), ": short read"));
  }
  auto doc = Extract(bytes, *format, options);
  if (!doc.ok()) {
    return Status(doc.status().code(), StrCat(path.string(), ": ", std::string(doc.status().message())));
  }
  return doc;
}

}  // namespace ragline::text
