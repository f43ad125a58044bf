// A YAML document as a plain tree in which every node knows where it came from: a line and
// column of the scenario file, or a position in one `--set` override. yaml-cpp's own nodes are
// not enough for that: nodes built by code have no mark, and yaml-cpp 0.7 silently accepts
// duplicate keys. Also the small helpers every scenario error needs (describe a node, suggest
// the nearest name).
#pragma once

#include <yaml-cpp/mark.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace svcbench::scenario_internal {

// Where a node came from. For an override, `file` is "--set", `line` says which override
// (1 = the first --set) and `col` is the 1-based position in that override's text.
struct Where {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int col = 0;   // 1-based; 0 when unknown
};

struct YamlNode {
  enum class Kind { kNull, kScalar, kList, kMap };

  Kind kind = Kind::kNull;
  std::string scalar;
  // Only a plain (unquoted, untagged) scalar can be a number; "5" in quotes is a string.
  bool plain = true;
  // Written as [a, b] / {a: b}; kept so the emitted copy looks like what the user wrote.
  bool flow = false;
  std::vector<YamlNode> items;                         // kList
  std::vector<std::pair<YamlNode, YamlNode>> entries;  // kMap, in document order; keys scalar
  Where where;

  // Declared here, defined where YamlNode is complete: clang 14 with libstdc++ 12 rejects the
  // implicit ones, which instantiate std::pair<YamlNode, YamlNode> while YamlNode is incomplete.
  YamlNode();
  YamlNode(const YamlNode&);
  YamlNode(YamlNode&&) noexcept;
  YamlNode& operator=(const YamlNode&);
  YamlNode& operator=(YamlNode&&) noexcept;
  ~YamlNode();

  const YamlNode* Find(std::string_view key) const;
  YamlNode* Find(std::string_view key);
};

// Where a yaml-cpp mark (0-based, or null for nodes without one) of the parsed text points.
using MarkToWhere = std::function<Where(const YAML::Mark&)>;

// More nodes than any real scenario has; stops alias expansion ("billion laughs") early.
inline constexpr size_t kMaxYamlNodes = 100000;

// Parses `text`, which must hold at most one document (none gives a kNull node at
// where(null mark)). `root_path` is the key path of the document's root in error messages
// ("" for a whole file). Throws ScenarioError for a syntax error, a second document, a
// duplicate or non-scalar key, or more than kMaxYamlNodes nodes.
YamlNode ParseYaml(const std::string& text, std::string_view root_path, const MarkToWhere& where);

// The tree back as YAML text (comments are gone; styles and quoting are kept).
std::string EmitYaml(const YamlNode& node);

// Throws ScenarioError: `file:line:col: path: message`.
[[noreturn]] void Fail(const Where& where, std::string_view path, std::string_view message);

// Throws ScenarioError: `file:line:col: path: expected <what>, got <got>`.
[[noreturn]] void FailExpected(const Where& where, std::string_view path, std::string_view what,
                               std::string_view got);

// What a node is, for "got ...": "a map", "a list", "null", "the number -3", "the string 'x'".
std::string Describe(const YamlNode& node);

// 'text' on one line (newlines escaped), shortened when long, so an error stays one line.
std::string Quote(std::string_view text);

// "file:line:col".
std::string FormatWhere(const Where& where);

// "parent.key", or "key" at the top.
std::string JoinPath(std::string_view parent, std::string_view key);

// Optimal string alignment distance: edits, where swapping two neighbours counts as one.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is close enough to be a likely typo.
std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string>& candidates);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace svcbench::scenario_internal
