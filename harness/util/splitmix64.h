// splitmix64: a tiny, fast generator whose output is the same on every standard library (unlike
// std:: distributions), so a seed means the same sequence everywhere: the same ServiceSet, the
// same probe order, the same bootstrap interval.
#pragma once

#include <cstdint>

namespace svcbench {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n >= 1; the modulo bias is below 2^-40 for n < 2^24.
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Also uniform in [0, n), n < 2^32, by multiplying instead of dividing (several times faster
  // in tight loops); bias below n / 2^32. A different sequence than Below() for the same seed.
  uint32_t Scaled(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }

 private:
  uint64_t state_;
};

}  // namespace svcbench
