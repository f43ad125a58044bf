// samples.csv: every raw sample, one per line, in the "tidy" shape that pandas, R and
// spreadsheets read directly (RFC 4180 quoting). Columns:
//   backend,services,endpoints_per_service,metric,unit,labels,repetition,value,error
// labels is "k=v;k=v" (sorted by key); a failed cell has one line with an empty value and the
// error text.
#pragma once

#include <string>

#include "harness/result/result.h"

namespace svcbench {

std::string SamplesCsv(const Result& r);

}  // namespace svcbench
