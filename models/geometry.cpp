#include "models/geometry.hpp"

#include "sim/config.hpp"
#include "sim/error.hpp"

namespace vmxsim::models {

GeometryProblem check_geometry(std::uint64_t size, std::uint64_t ways, std::uint64_t unit) {
  using P = GeometryProblem;
  if (ways == 0) return {P::kWays, "must be at least 1"};
  if (ways > UINT32_MAX) return {P::kWays, "too large: " + std::to_string(ways)};
  if (size / unit > UINT32_MAX) return {P::kSize, "too large: " + std::to_string(size)};
  const std::uint64_t set = unit * ways;  // no overflow: ways < 2^32, unit small
  if (size % set != 0) {
    const std::string of = unit == 1 ? "ways" : std::to_string(unit) + " * ways";
    return {P::kSize, std::to_string(size) + " is not a multiple of " + of + " (" + std::to_string(set) + ")"};
  }
  return {};
}

namespace {
Geometry geometry(std::uint64_t size, std::uint64_t ways, std::uint64_t unit) {
  return Geometry{std::uint32_t(size / unit), std::uint32_t(ways)};
}
}  // namespace

Geometry geometry_from(const Cfg& c, const std::string& size_key, std::uint64_t size, std::uint64_t ways,
                       std::uint64_t unit) {
  const GeometryProblem p = check_geometry(size, ways, unit);
  if (p) c.fail(p.field == GeometryProblem::kWays ? "ways" : size_key, p.message);
  return geometry(size, ways, unit);
}

Geometry checked_geometry(const std::string& what, const std::string& size_key, std::uint64_t size, std::uint64_t ways,
                          std::uint64_t unit) {
  const GeometryProblem p = check_geometry(size, ways, unit);
  if (p) throw Error(what + ": " + (p.field == GeometryProblem::kWays ? "ways" : size_key) + " " + p.message);
  return geometry(size, ways, unit);
}

}  // namespace vmxsim::models
