// SplitMix64 (Steele, Lea, Flood 2014): the one integer mixer the simulator
// uses for seeds, deterministic policy coins and cache tags. Identical on
// every platform, unlike std:: engines' distributions.
#pragma once
#include <cstdint>

namespace vmxsim {

inline constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio

/// The SplitMix64 finaliser: a bijective 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// One step of the SplitMix64 generator.
constexpr std::uint64_t splitmix64(std::uint64_t& state) { return mix64(state += kGoldenGamma); }

/// A well-spread seed for stream `stream` of `seed` (per vCPU, per level...).
constexpr std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  return mix64(seed + kGoldenGamma * (stream + 1));
}

/// A deterministic coin in [0, 1) for (seed, key): top 53 bits, exact in a double.
inline double unit_coin(std::uint64_t seed, std::uint64_t key) {
  return double(mix_seed(seed, key) >> 11) / double(std::uint64_t(1) << 53);
}

}  // namespace vmxsim
