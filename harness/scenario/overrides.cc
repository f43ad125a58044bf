#include "harness/scenario/overrides.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace svcbench::scenario_internal {
namespace {

constexpr std::string_view kKeyRule = "KEY as names of letters, digits, '_' and '-' joined by '.'";

struct Segment {
  std::string name;
  size_t offset;  // in the override text
};

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

YamlNode MakeNode(YamlNode::Kind kind, std::string scalar, const Where& where) {
  YamlNode node;
  node.kind = kind;
  node.scalar = std::move(scalar);
  node.where = where;
  return node;
}

}  // namespace

void ApplyOverride(YamlNode& root, const std::string& override_text, int index,
                   const std::vector<std::string>& opaque_maps) {
  const auto at = [index](size_t offset) {
    return Where{"--set", index + 1, static_cast<int>(offset) + 1};
  };
  const size_t eq = override_text.find('=');
  if (eq == std::string::npos) {
    FailExpected(at(0), Quote(override_text), "KEY=VALUE", "no '='");
  }
  const std::string key = override_text.substr(0, eq);
  if (key.empty()) FailExpected(at(0), Quote(override_text), "KEY=VALUE", "an empty KEY");

  std::vector<Segment> segments;
  std::string path;
  for (size_t start = 0;;) {
    const bool opaque =
        std::find(opaque_maps.begin(), opaque_maps.end(), path) != opaque_maps.end();
    const size_t dot = opaque ? std::string::npos : key.find('.', start);
    const size_t end = dot == std::string::npos ? key.size() : dot;
    const std::string name = key.substr(start, end - start);
    if (name.empty()) FailExpected(at(start), Quote(key), kKeyRule, "an empty name");
    if (!opaque) {
      const auto bad = std::find_if_not(name.begin(), name.end(), IsNameChar);
      if (bad != name.end()) {
        FailExpected(at(start + static_cast<size_t>(bad - name.begin())), Quote(key), kKeyRule,
                     fmt::format("'{}'", *bad));
      }
    }
    segments.push_back({name, start});
    path = JoinPath(path, name);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }

  const size_t value_offset = eq + 1;
  YamlNode value = ParseYaml(override_text.substr(value_offset), path, [&](const YAML::Mark& mark) {
    return at(value_offset + (mark.is_null() ? 0 : mark.pos));
  });

  YamlNode* map = &root;
  std::string map_path;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const Segment& segment = segments[i];
    map_path = JoinPath(map_path, segment.name);
    YamlNode* next = map->Find(segment.name);
    if (next == nullptr) {
      map->entries.emplace_back(MakeNode(YamlNode::Kind::kScalar, segment.name, at(segment.offset)),
                                MakeNode(YamlNode::Kind::kMap, "", at(segment.offset)));
      next = &map->entries.back().second;
    } else if (next->kind == YamlNode::Kind::kNull) {
      // `sync:` with nothing after it means "all defaults"; setting one of them is natural.
      next->kind = YamlNode::Kind::kMap;
    } else if (next->kind != YamlNode::Kind::kMap) {
      FailExpected(at(segment.offset), map_path,
                   fmt::format("a map to set '{}' in", segments[i + 1].name),
                   fmt::format("{} (at {})", Describe(*next), FormatWhere(next->where)));
    }
    map = next;
  }

  const Segment& last = segments.back();
  if (YamlNode* existing = map->Find(last.name)) {
    *existing = std::move(value);
  } else {
    map->entries.emplace_back(MakeNode(YamlNode::Kind::kScalar, last.name, at(last.offset)),
                              std::move(value));
  }
}

}  // namespace svcbench::scenario_internal
