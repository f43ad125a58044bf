// summary.md: GitHub-flavoured Markdown, fit for a CI comment. One table per metric (and label
// set): a row per service count, p50 and p90 per backend. Derived from a Result only.
#pragma once

#include <string>

#include "harness/result/result.h"

namespace svcbench {

std::string SummaryMarkdown(const Result& r);

// A value in its unit, scaled for reading: 0.00123 s -> "1.23 ms", 3.1e6 bytes -> "3.10 MB".
std::string FormatValue(double v, const std::string& unit);

}  // namespace svcbench
