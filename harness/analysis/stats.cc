#include "harness/analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace svcbench {

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  q = std::clamp(q, 0.0, 1.0);
  const double h = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double Stddev(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (v.size() == 1) return 0.0;
  const double m = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

Summary Summarize(const std::vector<double>& v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.p50 = s.p90 = s.p99 = s.p999 = s.max = s.mean = s.stddev = nan;
    return s;
  }
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.p50 = Quantile(sorted, 0.50);
  s.p90 = Quantile(sorted, 0.90);
  s.p99 = Quantile(sorted, 0.99);
  s.p999 = Quantile(sorted, 0.999);
  s.mean = Mean(sorted);
  s.stddev = Stddev(sorted);
  return s;
}

double NamedStatistic(const std::vector<double>& v, std::string_view stat) {
  if (stat == "mean") return Mean(v);
  if (stat == "min") return Quantile(v, 0);
  if (stat == "max") return Quantile(v, 1);
  if (stat.size() >= 2 && stat[0] == 'p') {
    double pct = 0;
    for (char c : stat.substr(1)) {
      if (c < '0' || c > '9') return std::numeric_limits<double>::quiet_NaN();
      pct = pct * 10 + (c - '0');
    }
    // p999 reads as 99.9, as Prometheus and kube-proxy dashboards spell it.
    const double scale =
        stat.size() <= 3 ? 1 : std::pow(10.0, static_cast<double>(stat.size()) - 3);
    if (pct / scale <= 100) return Quantile(v, pct / scale / 100);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

namespace {

// P(U >= u) for samples of sizes m and n without ties. The counts of arrangements by U are the
// coefficients of the Gaussian binomial coefficient [m+n choose m](q), built as the product over
// i = 1..m of (1 - q^(n+i)) / (1 - q^i); dividing by (1 - q^i) is a running sum with stride i.
double ExactUpperTail(size_t m, size_t n, size_t u) {
  if (m > n) std::swap(m, n);
  const size_t deg = m * n;
  std::vector<long double> c(deg + 1, 0.0L);
  c[0] = 1;
  for (size_t i = 1; i <= m; ++i) {
    for (size_t k = deg; k >= n + i; --k) c[k] -= c[k - (n + i)];
    for (size_t k = i; k <= deg; ++k) c[k] += c[k - i];
  }
  long double total = 0, tail = 0;
  for (size_t k = 0; k <= deg; ++k) {
    total += c[k];
    if (k >= u) tail += c[k];
  }
  return static_cast<double>(tail / total);
}

}  // namespace

MannWhitney MannWhitneyU(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  const size_t n1 = a.size(), n2 = b.size();
  if (n1 == 0 || n2 == 0) return r;
  // Midranks of the pooled sample; tie groups feed the variance correction.
  std::vector<std::pair<double, bool>> xy;  // value, from a
  xy.reserve(n1 + n2);
  for (double x : a) xy.emplace_back(x, true);
  for (double y : b) xy.emplace_back(y, false);
  std::sort(xy.begin(), xy.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  double r1 = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < xy.size();) {
    size_t j = i;
    while (j < xy.size() && xy[j].first == xy[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (xy[k].second) r1 += rank;
    }
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  r.u1 = r1 - dn1 * (dn1 + 1) / 2;
  const double u = std::max(r.u1, dn1 * dn2 - r.u1);
  // Beyond a few hundred thousand arrangements' worth of U values the normal approximation is
  // as good as exact and far cheaper.
  if ((n1 <= 8 || n2 <= 8) && !ties && n1 * n2 <= 200000) {
    r.exact = true;
    r.p = 2 * ExactUpperTail(n1, n2, static_cast<size_t>(u));
  } else {
    const double n = dn1 + dn2;
    const double s = std::sqrt(dn1 * dn2 / 12 * ((n + 1) - tie_term / (n * (n - 1))));
    const double z = (u - dn1 * dn2 / 2 - 0.5) / s;
    // All values tied: s is 0 and there is no evidence of a difference.
    r.p = s > 0 ? std::erfc(z / std::sqrt(2.0)) : 1.0;
  }
  r.p = std::clamp(r.p, 0.0, 1.0);
  return r;
}

double MinTwoSidedP(size_t n1, size_t n2) {
  if (n1 == 0 || n2 == 0) return 1;
  // 1 / C(n1 + n2, n1), as a running product to stay finite.
  double inv = 1;
  for (size_t i = 1; i <= std::min(n1, n2); ++i) {
    inv *= static_cast<double>(i) / static_cast<double>(std::max(n1, n2) + i);
  }
  return std::min(1.0, 2 * inv);
}

}  // namespace svcbench
