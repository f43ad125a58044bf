// summary.md: GitHub-flavoured Markdown, fit for a CI comment. One table per metric (and label
// set): a row per service count, p50 and p90 per backend. Derived from a Result only.
#pragma once

#include <string>

#include "harness/report/format.h"
#include "harness/result/result.h"

namespace svcbench {

std::string SummaryMarkdown(const Result& r);

}  // namespace svcbench
