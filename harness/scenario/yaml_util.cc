#include "harness/scenario/yaml_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>
#include <unordered_map>

#include "harness/scenario/scenario.h"

namespace svcbench::scenario_internal {
namespace {

class Converter {
 public:
  explicit Converter(const MarkToWhere& where) : where_(where) {}

  YamlNode Convert(const YAML::Node& in, const std::string& path) {
    YamlNode out;
    out.where = where_(in.Mark());
    if (++nodes_ > kMaxYamlNodes) {
      FailExpected(out.where, path, fmt::format("at most {} YAML nodes", kMaxYamlNodes),
                   "more (aliases expand into copies)");
    }
    out.flow = in.Style() == YAML::EmitterStyle::Flow;
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = YamlNode::Kind::kNull;
        break;
      case YAML::NodeType::Scalar:
        out.kind = YamlNode::Kind::kScalar;
        out.scalar = in.Scalar();
        // yaml-cpp tags a plain scalar "?", a quoted one "!", an explicit one with its tag.
        out.plain = in.Tag() == "?";
        break;
      case YAML::NodeType::Sequence:
        out.kind = YamlNode::Kind::kList;
        for (size_t i = 0; i < in.size(); ++i) {
          out.items.push_back(Convert(in[i], fmt::format("{}[{}]", path, i)));
        }
        break;
      case YAML::NodeType::Map:
        out.kind = YamlNode::Kind::kMap;
        ConvertMap(in, path, out);
        break;
    }
    return out;
  }

 private:
  void ConvertMap(const YAML::Node& in, const std::string& path, YamlNode& out) {
    // yaml-cpp 0.7 keeps both entries of a duplicated key and lookups see only the first, so a
    // second `repetitions:` would be silently ignored; catch it here.
    std::unordered_map<std::string, Where> seen;
    for (auto it = in.begin(); it != in.end(); ++it) {
      YamlNode key = Convert(it->first, path);
      if (key.kind != YamlNode::Kind::kScalar) {
        FailExpected(key.where, path.empty() ? "(top level)" : path, "a string key", Describe(key));
      }
      const std::string key_path = JoinPath(path, key.scalar);
      auto [first, inserted] = seen.emplace(key.scalar, key.where);
      if (!inserted) {
        FailExpected(
            key.where, key_path, "each key once",
            fmt::format("{} again (first at {})", Quote(key.scalar), FormatWhere(first->second)));
      }
      YamlNode value = Convert(it->second, key_path);
      // An empty value's mark is the next token, often on another line; its key is where the
      // user looks.
      if (value.kind == YamlNode::Kind::kNull) value.where = key.where;
      out.entries.emplace_back(std::move(key), std::move(value));
    }
  }

  const MarkToWhere& where_;
  size_t nodes_ = 0;
};

void Emit(const YamlNode& node, YAML::Emitter& out) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      out << YAML::Null;
      break;
    case YamlNode::Kind::kScalar:
      if (node.plain) {
        out << node.scalar;
      } else if (node.scalar.find('\n') != std::string::npos) {
        out << YAML::Literal << node.scalar;
      } else {
        // Quoted stays quoted, so "5" does not come back as a number.
        out << YAML::DoubleQuoted << node.scalar;
      }
      break;
    case YamlNode::Kind::kList:
      if (node.flow || node.items.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const YamlNode& item : node.items) Emit(item, out);
      out << YAML::EndSeq;
      break;
    case YamlNode::Kind::kMap:
      if (node.flow || node.entries.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.entries) {
        out << YAML::Key;
        Emit(key, out);
        out << YAML::Value;
        Emit(value, out);
      }
      out << YAML::EndMap;
      break;
  }
}

bool IsInteger(const std::string& s) {
  static const std::regex kInteger("[-+]?[0-9]+");
  return std::regex_match(s, kInteger);
}

bool IsFloat(const std::string& s) {
  static const std::regex kFloat(
      R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
  return std::regex_match(s, kFloat);
}

bool IsBool(const std::string& s) {
  return s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Sees where each document starts, to find the inputs on which yaml-cpp 0.7's LoadAll never
// returns (jbeder/yaml-cpp#1040, fixed upstream by #1319): a token that starts no node (a ','
// at the top, as in `--set backends=,`) is neither consumed nor an error, so every call parses
// the same empty document again and LoadAll allocates until the OOM killer ends it.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

// The mark where parsing stops making progress, if it does; LoadAll is safe to call otherwise.
std::optional<YAML::Mark> FindStuckDocument(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts handler;
  while (parser.HandleNextDocument(handler)) {
    const std::vector<YAML::Mark>& starts = handler.starts;
    if (starts.size() >= 2 && starts[starts.size() - 1].pos == starts[starts.size() - 2].pos) {
      return starts.back();
    }
  }
  return std::nullopt;
}

}  // namespace

YamlNode::YamlNode() = default;
YamlNode::YamlNode(const YamlNode&) = default;
YamlNode::YamlNode(YamlNode&&) noexcept = default;
YamlNode& YamlNode::operator=(const YamlNode&) = default;
YamlNode& YamlNode::operator=(YamlNode&&) noexcept = default;
YamlNode::~YamlNode() = default;

const YamlNode* YamlNode::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.scalar == key) return &v;
  }
  return nullptr;
}

YamlNode* YamlNode::Find(std::string_view key) {
  return const_cast<YamlNode*>(std::as_const(*this).Find(key));
}

YamlNode ParseYaml(const std::string& text, std::string_view root_path, const MarkToWhere& where) {
  const std::string path(root_path);
  std::vector<YAML::Node> docs;
  try {
    if (const std::optional<YAML::Mark> stuck = FindStuckDocument(text)) {
      FailExpected(where(*stuck), path, "valid YAML",
                   "a syntax error (a token that starts no node)");
    }
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    FailExpected(where(e.mark), path, "valid YAML", fmt::format("a syntax error ({})", e.msg));
  }
  if (docs.empty()) {
    YamlNode empty;
    empty.where = where(YAML::Mark::null_mark());
    return empty;
  }
  if (docs.size() > 1) {
    FailExpected(where(docs[1].Mark()), path, "one YAML document",
                 fmt::format("{} documents", docs.size()));
  }
  Converter converter(where);
  return converter.Convert(docs[0], path);
}

std::string EmitYaml(const YamlNode& node) {
  YAML::Emitter out;
  Emit(node, out);
  if (!out.good()) {
    throw std::logic_error(fmt::format("emitting a scenario as YAML: {}", out.GetLastError()));
  }
  return std::string(out.c_str()) + "\n";
}

void Fail(const Where& where, std::string_view path, std::string_view message) {
  throw ScenarioError(where.file, where.line, where.col,
                      path.empty() ? std::string(message) : fmt::format("{}: {}", path, message));
}

void FailExpected(const Where& where, std::string_view path, std::string_view what,
                  std::string_view got) {
  Fail(where, path, fmt::format("expected {}, got {}", what, got));
}

std::string Describe(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      return "null";
    case YamlNode::Kind::kList:
      return node.items.empty() ? "an empty list" : "a list";
    case YamlNode::Kind::kMap:
      return node.entries.empty() ? "an empty map" : "a map";
    case YamlNode::Kind::kScalar:
      break;
  }
  if (node.plain && (IsInteger(node.scalar) || IsFloat(node.scalar))) {
    return "the number " + node.scalar;
  }
  if (node.plain && IsBool(node.scalar)) return "the boolean " + node.scalar;
  return "the string " + Quote(node.scalar);
}

std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "'";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxShown) {
      out += "...";
      break;
    }
    const char c = text[i];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string FormatWhere(const Where& where) {
  return fmt::format("{}:{}:{}", where.file, where.line, where.col);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Full table: names are short, and the transposition step needs two rows back.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  // Up to a third of the word may be wrong: enough for typos and dropped or swapped letters;
  // a farther "suggestion" would be a guess that misleads more than it helps.
  const size_t limit = std::max<size_t>(1, word.size() / 3);
  const std::string lower_word = Lower(word);
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(lower_word, Lower(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string JoinNames(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace svcbench::scenario_internal
