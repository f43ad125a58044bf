#include "harness/analysis/fit.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace svcbench {
namespace {

double Basis(GrowthModel m, double n) {
  switch (m) {
    case GrowthModel::kConstant:
      return 0;
    case GrowthModel::kLinear:
      return n;
    case GrowthModel::kNLogN:
      return n > 0 ? n * std::log(n) : 0;
    case GrowthModel::kQuadratic:
      return n * n;
  }
  return 0;
}

}  // namespace

std::string_view GrowthModelName(GrowthModel m) {
  switch (m) {
    case GrowthModel::kConstant:
      return "constant";
    case GrowthModel::kLinear:
      return "linear";
    case GrowthModel::kNLogN:
      return "n log n";
    case GrowthModel::kQuadratic:
      return "quadratic";
  }
  return "?";
}

double Fit::Predict(double n) const { return a + b * Basis(model, n); }

double Fit::LargestWithin(double limit, double cap) const {
  // Every f is non-decreasing for n >= 1, so with b <= 0 the cost does not grow.
  if (model == GrowthModel::kConstant || b <= 0) return Predict(cap) <= limit ? cap : 0;
  if (Predict(cap) <= limit) return cap;
  if (a > limit) return 0;
  switch (model) {
    case GrowthModel::kLinear:
      return (limit - a) / b;
    case GrowthModel::kQuadratic:
      return std::sqrt((limit - a) / b);
    default:
      break;
  }
  // n·ln n has no closed-form inverse; it is increasing for n >= 1, so bisect.
  double lo = 1, hi = cap;
  if (Predict(lo) > limit) return 0;
  for (int i = 0; i < 200 && hi - lo > 1e-6 * hi; ++i) {
    const double mid = (lo + hi) / 2;
    (Predict(mid) <= limit ? lo : hi) = mid;
  }
  return lo;
}

std::vector<Fit> FitGrowthModels(const std::vector<double>& n, const std::vector<double>& y) {
  std::vector<Fit> fits;
  const size_t k = std::min(n.size(), y.size());
  if (std::set<double>(n.begin(), n.begin() + static_cast<long>(k)).size() < 2) return fits;
  double ybar = 0;
  for (size_t i = 0; i < k; ++i) ybar += y[i];
  ybar /= static_cast<double>(k);
  double sst = 0;
  for (size_t i = 0; i < k; ++i) sst += (y[i] - ybar) * (y[i] - ybar);
  // A perfect fit has rss 0 and an AIC of -inf; a floor far below any real noise keeps the
  // comparison finite while still preferring it.
  const double floor = std::max(sst, 1e-300) * 1e-12;
  const double dk = static_cast<double>(k);
  for (GrowthModel m : {GrowthModel::kConstant, GrowthModel::kLinear, GrowthModel::kNLogN,
                        GrowthModel::kQuadratic}) {
    Fit f;
    f.model = m;
    f.points = k;
    int params = 1;
    if (m == GrowthModel::kConstant) {
      f.a = ybar;
    } else {
      params = 2;
      double xbar = 0;
      for (size_t i = 0; i < k; ++i) xbar += Basis(m, n[i]);
      xbar /= dk;
      double sxy = 0, sxx = 0;
      for (size_t i = 0; i < k; ++i) {
        const double dx = Basis(m, n[i]) - xbar;
        sxy += dx * (y[i] - ybar);
        sxx += dx * dx;
      }
      f.b = sxx > 0 ? sxy / sxx : 0;
      f.a = ybar - f.b * xbar;
    }
    for (size_t i = 0; i < k; ++i) {
      const double e = y[i] - f.Predict(n[i]);
      f.rss += e * e;
    }
    f.r2 = sst > 0 ? 1 - f.rss / sst : (f.rss == 0 ? 1 : 0);
    f.adj_r2 = dk - params > 0 ? 1 - (1 - f.r2) * (dk - 1) / (dk - params) : f.r2;
    f.aic = dk * std::log(std::max(f.rss, floor) / dk) + 2 * params;
    fits.push_back(f);
  }
  return fits;
}

std::optional<Fit> BestFit(const std::vector<double>& n, const std::vector<double>& y) {
  const std::vector<Fit> fits = FitGrowthModels(n, y);
  if (fits.empty()) return std::nullopt;
  const Fit* best = &fits.front();
  // Strictly lower: on a tie the earlier, simpler model stays.
  for (const Fit& f : fits) {
    if (f.aic < best->aic) best = &f;
  }
  return *best;
}

}  // namespace svcbench
