// Growth models of a cost against the service count, fitted by least squares, for
// `svcbench recommend`: y = a + b·f(n) with f(n) = 1 (constant), n, n·ln n or n².
// The model is chosen by AIC, which trades the fit (residual sum of squares) against the number
// of parameters, so a flat cost is not called linear because of noise.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace svcbench {

enum class GrowthModel { kConstant, kLinear, kNLogN, kQuadratic };
std::string_view GrowthModelName(GrowthModel m);  // "constant", "linear", "n log n", "quadratic"

struct Fit {
  GrowthModel model = GrowthModel::kConstant;
  double a = 0, b = 0;  // y = a + b·f(n)
  size_t points = 0;
  double rss = 0;     // residual sum of squares
  double r2 = 0;      // 1 - rss / total sum of squares (0 for the constant model)
  double adj_r2 = 0;  // r2 adjusted for the number of parameters
  double aic = 0;     // points·ln(rss/points) + 2·parameters

  double Predict(double n) const;
  // Largest n in [0, cap] with Predict(n) <= limit; cap when the model never exceeds it there
  // (a cost that does not grow), 0 when even n = 0 exceeds it.
  double LargestWithin(double limit, double cap) const;
};

// Every model fitted to the points (n_i > 0); empty when there are fewer than 2 distinct n.
std::vector<Fit> FitGrowthModels(const std::vector<double>& n, const std::vector<double>& y);

// The model with the lowest AIC; ties go to the simpler model. nullopt when nothing was fitted.
std::optional<Fit> BestFit(const std::vector<double>& n, const std::vector<double>& y);

}  // namespace svcbench
