// Every link in the documentation resolves: in README.md and docs/*.md, each Markdown link or
// image whose target is not a URL names a file or folder that exists relative to the document,
// an #anchor names a heading of its document (as GitHub derives anchors from headings), and an
// inline-code span that looks like a repository path (foundations/…, peers/…, tests/…) names
// something that exists. A broken one is reported as one line: document, line, target.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {


std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t") == std::string::npos;
}

std::size_t indent_of(const std::string& line) {
  std::size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

// Which lines are code: fenced blocks (``` or ~~~, fences included) and indented blocks (four
// spaces after a blank line). Links and code spans are not looked for there.
std::vector<bool> code_lines(const std::vector<std::string>& lines) {
  std::vector<bool> code(lines.size(), false);
  std::string fence;  // the fence that opened the current block, empty outside one
  bool indented = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::size_t ind = indent_of(line);
    const std::string rest = line.substr(ind);
    if (!fence.empty()) {
      code[i] = true;
      if (rest.rfind(fence, 0) == 0 && blank(rest.substr(fence.size()))) fence.clear();
      continue;
    }
    if (ind < 4 && (rest.rfind("```", 0) == 0 || rest.rfind("~~~", 0) == 0)) {
      std::size_t n = 0;
      while (n < rest.size() && rest[n] == rest[0]) ++n;
      fence = rest.substr(0, n);
      code[i] = true;
      indented = false;
      continue;
    }
    const bool after_blank = i == 0 || blank(lines[i - 1]);
    if (ind >= 4 && !blank(line) && (indented || after_blank)) {
      indented = true;
      code[i] = true;
      continue;
    }
    if (!blank(line)) indented = false;
  }
  return code;
}

// The code point at text[i] (UTF-8) and its length in bytes.
std::pair<char32_t, std::size_t> decode_utf8(const std::string& text, std::size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  auto cont = [&](std::size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) & 0x3F : 0;
  };
  if (b < 0x80) return {b, 1};
  if ((b >> 5) == 0x6) return {static_cast<char32_t>(((b & 0x1F) << 6) | cont(1)), 2};
  if ((b >> 4) == 0xE) return {static_cast<char32_t>(((b & 0x0F) << 12) | (cont(1) << 6) | cont(2)), 3};
  return {static_cast<char32_t>(((b & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3)), 4};
}

// Letters outside ASCII that an anchor keeps: Latin, Greek and Cyrillic letters. Everything else
// outside ASCII that prose uses here (dashes, arrows, mathematical signs) is punctuation or a
// symbol and dropped.
bool is_non_ascii_letter(char32_t c) {
  if (c >= 0xC0 && c <= 0x24F) return c != 0xD7 && c != 0xF7;
  if (c >= 0x370 && c <= 0x3FF) return c != 0x37E && c != 0x387;
  return c >= 0x400 && c <= 0x4FF;
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return static_cast<char32_t>(std::tolower(static_cast<int>(c)));
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2)) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// A heading's text as rendered: a link keeps its text, not its target.
std::string strip_link_targets(const std::string& heading) {
  std::string out;
  for (std::size_t i = 0; i < heading.size(); ++i) {
    if (heading[i] == ']' && i + 1 < heading.size() && heading[i + 1] == '(') {
      const auto close = heading.find(')', i + 2);
      if (close != std::string::npos) {
        i = close;
        continue;
      }
    }
    out += heading[i];
  }
  return out;
}

// The anchor GitHub gives a heading: lower case, each space a '-', punctuation and symbols other
// than '-' and '_' dropped (the markup of code spans, emphasis and links with them).
std::string github_anchor(const std::string& heading) {
  const std::string text = strip_link_targets(heading);
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto [c, len] = decode_utf8(text, i);
    i += len;
    if (c == ' ') {
      out += '-';
    } else if (c == '-' || c == '_' || (c < 0x80 && std::isalnum(static_cast<int>(c)))) {
      append_utf8(out, to_lower(c));
    } else if (c >= 0x80 && is_non_ascii_letter(c)) {
      append_utf8(out, to_lower(c));
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// The anchors of a document's headings (ATX "# …" and setext "…\n===" outside code), a repeated
// heading numbered -1, -2, … as GitHub does.
std::set<std::string> heading_anchors(const std::vector<std::string>& lines, const std::vector<bool>& code) {
  std::set<std::string> anchors;
  std::map<std::string, int> seen;
  auto add = [&](const std::string& text) {
    const std::string base = github_anchor(trim(text));
    const int n = seen[base]++;
    anchors.insert(n == 0 ? base : base + "-" + std::to_string(n));
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (code[i]) continue;
    const std::string& line = lines[i];
    if (indent_of(line) < 4) {
      const std::string rest = line.substr(indent_of(line));
      std::size_t level = 0;
      while (level < rest.size() && rest[level] == '#') ++level;
      if (level >= 1 && level <= 6 && (level == rest.size() || rest[level] == ' ')) {
        std::string text = trim(rest.substr(level));
        const auto last = text.find_last_not_of('#');
        if (last != std::string::npos && last + 1 < text.size() && text[last] == ' ') text = text.substr(0, last);
        else if (last == std::string::npos) text.clear();
        add(text);
        continue;
      }
    }
    if (i + 1 < lines.size() && !code[i + 1] && !blank(line) && indent_of(line) < 4) {
      const std::string under = trim(lines[i + 1]);
      const bool rule = !under.empty() && (under.find_first_not_of('=') == std::string::npos ||
                                           under.find_first_not_of('-') == std::string::npos);
      const bool list_or_table = line.find('|') != std::string::npos;
      if (rule && !list_or_table && (under[0] == '=' || under.size() >= 2)) add(line);
    }
  }
  return anchors;
}

// A stretch of prose: consecutive non-blank lines outside code, joined with '\n'. Code spans and
// links never cross its end.
struct Block {
  std::string text;
  std::vector<std::size_t> line_starts;  // offset in text where each line starts
  std::size_t first_line = 0;            // 1-based line number of its first line
  std::size_t line_of(std::size_t offset) const {
    const auto it = std::upper_bound(line_starts.begin(), line_starts.end(), offset);
    return first_line + static_cast<std::size_t>(it - line_starts.begin()) - 1;
  }
};

std::vector<Block> prose_blocks(const std::vector<std::string>& lines, const std::vector<bool>& code) {
  std::vector<Block> blocks;
  Block current;
  auto flush = [&] {
    if (!current.line_starts.empty()) blocks.push_back(current);
    current = Block{};
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (code[i] || blank(lines[i])) {
      flush();
      continue;
    }
    if (current.line_starts.empty()) current.first_line = i + 1;
    else current.text += '\n';
    current.line_starts.push_back(current.text.size());
    current.text += lines[i];
  }
  flush();
  return blocks;
}

struct CodeSpan {
  std::size_t begin, end;  // the span with its backticks: [begin, end)
  std::string content;
};

// Code spans: a run of n backticks up to the next run of exactly n; a run with no such partner
// in the block is literal.
std::vector<CodeSpan> code_spans(const std::string& text) {
  std::vector<CodeSpan> spans;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      i += 2;
      continue;
    }
    if (text[i] != '`') {
      ++i;
      continue;
    }
    std::size_t n = 0;
    while (i + n < text.size() && text[i + n] == '`') ++n;
    std::size_t j = i + n;
    std::size_t close = std::string::npos;
    while (j < text.size()) {
      if (text[j] != '`') {
        ++j;
        continue;
      }
      std::size_t m = 0;
      while (j + m < text.size() && text[j + m] == '`') ++m;
      if (m == n) {
        close = j;
        break;
      }
      j += m;
    }
    if (close == std::string::npos) {
      i += n;
      continue;
    }
    std::string content = text.substr(i + n, close - i - n);
    std::replace(content.begin(), content.end(), '\n', ' ');
    if (content.size() >= 2 && content.front() == ' ' && content.back() == ' ' &&
        content.find_first_not_of(' ') != std::string::npos)
      content = content.substr(1, content.size() - 2);
    spans.push_back({i, close + n, content});
    i = close + n;
  }
  return spans;
}

struct Link {
  std::size_t offset;
  std::string target;
};

// Inline links and images, [text](target) and ![alt](target), in a block whose code spans have
// been blanked out; and reference definitions, [label]: target, at the start of a line.
std::vector<Link> links_in(const std::string& text) {
  std::vector<Link> links;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != ']' || text[i + 1] != '(' || (i > 0 && text[i - 1] == '\\')) continue;
    if (text.rfind('[', i) == std::string::npos) continue;
    std::size_t j = i + 2;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\n')) ++j;
    std::string target;
    if (j < text.size() && text[j] == '<') {
      const auto close = text.find('>', j);
      if (close == std::string::npos) continue;
      target = text.substr(j + 1, close - j - 1);
    } else {
      int depth = 0;
      std::size_t k = j;
      for (; k < text.size(); ++k) {
        const char c = text[k];
        if (c == ' ' || c == '\n') break;
        if (c == '(') ++depth;
        if (c == ')' && depth-- == 0) break;
      }
      target = text.substr(j, k - j);
    }
    links.push_back({i + 1, target});
  }
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    const auto line_end = std::min(text.find('\n', line_start), text.size());
    const std::string line = text.substr(line_start, line_end - line_start);
    const std::string rest = line.substr(std::min(indent_of(line), line.size()));
    const auto colon = rest.find("]:");
    if (indent_of(line) < 4 && !rest.empty() && rest[0] == '[' && colon != std::string::npos &&
        rest.find(']') == colon) {
      std::istringstream words(rest.substr(colon + 2));
      std::string target;
      words >> target;
      if (target.size() >= 2 && target.front() == '<' && target.back() == '>')
        target = target.substr(1, target.size() - 2);
      if (!target.empty()) links.push_back({line_start + indent_of(line), target});
    }
    line_start = line_end + 1;
  }
  return links;
}

bool is_url(const std::string& target) {
  for (const char* scheme : {"http://", "https://", "mailto:"})
    if (target.rfind(scheme, 0) == 0) return true;
  return false;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// {a,b} alternatives expanded, every brace in turn.
std::vector<std::string> expand_braces(const std::string& pattern) {
  const auto open = pattern.find('{');
  if (open == std::string::npos) return {pattern};
  const auto close = pattern.find('}', open);
  if (close == std::string::npos) return {pattern};
  std::vector<std::string> out;
  std::string alternatives = pattern.substr(open + 1, close - open - 1);
  std::size_t start = 0;
  while (true) {
    const auto comma = alternatives.find(',', start);
    const std::string alt = alternatives.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    for (auto& rest : expand_braces(pattern.substr(0, open) + alt + pattern.substr(close + 1))) out.push_back(rest);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Whether a repository path exists; a trailing '*' (as in "ring_geometry.*") matches any entry
// of its folder whose name starts with what comes before it.
bool path_exists(const fs::path& root, const std::string& path) {
  if (path.empty() || path.back() != '*') return fs::exists(root / path);
  const std::string stem = path.substr(0, path.size() - 1);
  const auto slash = stem.rfind('/');
  const fs::path dir = root / (slash == std::string::npos ? "" : stem.substr(0, slash));
  const std::string prefix = slash == std::string::npos ? stem : stem.substr(slash + 1);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) return true;
  return false;
}

bool looks_like_repository_path(const std::string& span) {
  if (span.find_first_of("< \t") != std::string::npos || span.find("…") != std::string::npos) return false;
  for (const char* top : {"foundations/", "topology/", "peers/", "tools/", "tests/", "examples/", "docs/", "fuzz/"})
    if (span.rfind(top, 0) == 0) return true;
  return false;
}

// A path of this machine, not of a clone.
bool machine_path(const std::string& s) {
  for (const char* p : {"/work/", "/home/", "/root/"})
    if (s.rfind(p, 0) == 0) return true;
  return false;
}

struct Document {
  std::vector<std::string> lines;
  std::vector<bool> code;
  std::set<std::string> anchors;
};

// Every problem in the documentation under `root`, one line each: "DOC:LINE: what (target)".
std::vector<std::string> check_docs(const fs::path& root) {
  std::vector<std::string> docs;
  if (fs::exists(root / "README.md")) docs.push_back("README.md");
  std::vector<std::string> in_docs;
  std::error_code ec;
  if (fs::is_directory(root / "docs", ec))
    for (const auto& entry : fs::directory_iterator(root / "docs"))
      if (entry.is_regular_file() && entry.path().extension() == ".md")
        in_docs.push_back("docs/" + entry.path().filename().string());
  std::sort(in_docs.begin(), in_docs.end());
  docs.insert(docs.end(), in_docs.begin(), in_docs.end());

  std::map<std::string, Document> parsed;  // by path relative to root, normalised
  auto load = [&](const fs::path& rel) -> const Document& {
    const std::string key = rel.lexically_normal().generic_string();
    auto it = parsed.find(key);
    if (it != parsed.end()) return it->second;
    Document d;
    d.lines = split_lines(read_file(root / key));
    d.code = code_lines(d.lines);
    d.anchors = heading_anchors(d.lines, d.code);
    return parsed.emplace(key, std::move(d)).first->second;
  };

  std::vector<std::string> problems;
  for (const auto& doc : docs) {
    const Document& d = load(doc);
    const fs::path doc_dir = fs::path(doc).parent_path();
    std::vector<std::pair<std::size_t, std::string>> found;  // line, what
    for (const auto& block : prose_blocks(d.lines, d.code)) {
      std::string masked = block.text;
      for (const auto& span : code_spans(block.text)) {
        for (std::size_t k = span.begin; k < span.end; ++k)
          if (masked[k] != '\n') masked[k] = 'x';
        const std::size_t line = block.line_of(span.begin);
        if (machine_path(span.content)) {
          found.emplace_back(line, "a path of one machine, not of a clone (" + span.content + ")");
          continue;
        }
        if (!looks_like_repository_path(span.content)) continue;
        for (const auto& path : expand_braces(span.content))
          if (!path_exists(root, path))
            found.emplace_back(line, "no such file or folder in the repository (" + path + ")");
      }
      for (const auto& link : links_in(masked)) {
        const std::size_t line = block.line_of(link.offset);
        const std::string& target = link.target;
        if (target.empty()) {
          found.emplace_back(line, "a link without a target");
          continue;
        }
        if (is_url(target)) continue;
        const auto hash = target.find('#');
        const std::string path = percent_decode(target.substr(0, hash));
        const std::string anchor = hash == std::string::npos ? "" : target.substr(hash + 1);
        if (!path.empty() && path[0] == '/') {
          found.emplace_back(line, "an absolute path, not one relative to the document (" + target + ")");
          continue;
        }
        const fs::path rel = path.empty() ? fs::path(doc) : doc_dir / path;
        if (!path.empty() && !fs::exists(root / rel)) {
          found.emplace_back(line, "no such file or folder (" + target + ")");
          continue;
        }
        if (hash == std::string::npos) continue;
        if (rel.extension() != ".md") continue;  // an anchor into a source file is a line (#L10)
        if (!fs::is_regular_file(root / rel)) continue;
        const Document& linked = load(rel);
        if (!linked.anchors.count(percent_decode(anchor)))
          found.emplace_back(line, "no heading with the anchor #" + anchor + " in " +
                             rel.lexically_normal().generic_string() + " (" + target + ")");
      }
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [line, what] : found) problems.push_back(doc + ":" + std::to_string(line) + ": " + what);
  }
  return problems;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

bool reports(const std::vector<std::string>& problems, const std::string& line) {
  return std::find(problems.begin(), problems.end(), line) != problems.end();
}

}  // namespace

TEST_CASE("anchors are derived from headings as GitHub does") {
  CHECK(github_anchor("AES-256-GCM: OpenSSL by default, the fused VAES code as a build option") ==
        "aes-256-gcm-openssl-by-default-the-fused-vaes-code-as-a-build-option");
  CHECK(github_anchor("Overlap (`--overlap S`, kavg and hier)") == "overlap---overlap-s-kavg-and-hier");
  CHECK(github_anchor("Every strategy — `examples/compare/all-strategies.sh` (two runs each)") ==
        "every-strategy--examplescompareall-strategiessh-two-runs-each");
  CHECK(github_anchor("Commodity switch: `--net lan` and `--net wan`") == "commodity-switch---net-lan-and---net-wan");
  CHECK(github_anchor("See [the ring](ring.md) now") == "see-the-ring-now");
  CHECK(github_anchor("snake_case and τ") == "snake_case-and-τ");
}

TEST_CASE("every link, anchor and repository path in README.md and docs/*.md resolves") {
  const auto problems = check_docs(chorus_test::source_root());
  CHECK_MESSAGE(problems.empty(), problems.size(), " broken link(s) or path(s):\n", joined(problems));
}

TEST_CASE("broken links, anchors and paths are each reported with document and line") {
  chorus_test::TempDir dir("chorus-docs");
  const fs::path root = dir.path();
  chorus_test::write_file(root, "peers/ring/ring_geometry.h", "");
  chorus_test::write_file(root, "peers/ring/ring_geometry.cpp", "");
  chorus_test::write_file(root, "tools/chorus/swarm_runner.h", "");
  chorus_test::write_file(root, "tools/chorus/swarm_runner.cpp", "");
  chorus_test::write_file(root, "examples/compare/run-all.sh", "");
  chorus_test::write_file(root, "docs/compare/plot.png", "");
  chorus_test::write_file(root, "README.md",
        "# chorus\n"
        "\n"
        "See [the ring](docs/ring.md#the-algorithm), ![a plot](docs/compare/plot.png),\n"
        "[a site](https://example.com/x), [a mail](mailto:a@b.c) and [examples](examples/compare).\n"
        "`peers/ring/ring_geometry.*` and `tools/chorus/swarm_runner.{h,cpp}` and `tools/dev demo`.\n"
        "A span over two lines, `peers/ring/\n"
        "gone.h`, has a space and is skipped, as is `peers/<area>/x.h`.\n"
        "\n"
        "```sh\n"
        "[not a link](nowhere.md) `peers/nothing.h`\n"
        "```\n"
        "\n"
        "    [indented code](nowhere.md)\n"
        "\n"
        "[gone](docs/gone.md) and [bad anchor](docs/ring.md#no-such-heading)\n"
        "and [self](#chorus) and [self, wrong](#nothing) and [abs](/work/x.md) and `/home/me/chorus`.\n"
        "[ref]: docs/missing.md\n");
  chorus_test::write_file(root, "docs/ring.md",
        "# Ring\n"
        "\n"
        "## The algorithm\n"
        "\n"
        "[up](../README.md#chorus), [code](../peers/ring/ring_geometry.h#L3), "
        "[folder](../tools/chorus/), [missing](../peers/ring/ring_session.h)\n"
        "`tools/chorus/{swarm_runner,relay}.h`\n"
        "\n"
        "## Notes\n"
        "\n"
        "## Notes\n"
        "\n"
        "Underlined\n"
        "----------\n"
        "\n"
        "[second notes](#notes-1), [underlined](#underlined), [third notes](#notes-2)\n");

  const auto problems = check_docs(root);
  INFO(joined(problems));
  CHECK(reports(problems, "README.md:15: no such file or folder (docs/gone.md)"));
  CHECK(reports(problems, "README.md:15: no heading with the anchor #no-such-heading in docs/ring.md "
                          "(docs/ring.md#no-such-heading)"));
  CHECK(reports(problems, "README.md:16: no heading with the anchor #nothing in README.md (#nothing)"));
  CHECK(reports(problems, "README.md:16: an absolute path, not one relative to the document (/work/x.md)"));
  CHECK(reports(problems, "README.md:16: a path of one machine, not of a clone (/home/me/chorus)"));
  CHECK(reports(problems, "README.md:17: no such file or folder (docs/missing.md)"));
  CHECK(reports(problems, "docs/ring.md:5: no such file or folder (../peers/ring/ring_session.h)"));
  CHECK(reports(problems, "docs/ring.md:6: no such file or folder in the repository (tools/chorus/relay.h)"));
  CHECK(reports(problems, "docs/ring.md:15: no heading with the anchor #notes-2 in docs/ring.md (#notes-2)"));
  CHECK(problems.size() == 9);
}
