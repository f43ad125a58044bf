// Small text helpers shared by the reporters and the analysis outputs, so every output names a
// row's labels and scales a value the same way.
#pragma once

#include <map>
#include <string>

namespace svcbench {

using Labels = std::map<std::string, std::string>;

// "position=last, probe=tcp-connect" (sorted by key), "" for no labels: for people.
std::string LabelText(const Labels& labels);

// A value in its unit, scaled for reading: 0.00123 s -> "1.23 ms", 3.1e6 bytes -> "3.1 MB".
std::string FormatValue(double v, const std::string& unit);

// A name safe as one path component: every byte outside [A-Za-z0-9._-] becomes '_'.
std::string FileSafe(const std::string& s);

}  // namespace svcbench
