// Small formatting helpers for messages.
#pragma once
#include <cstdint>
#include <sstream>
#include <string>

namespace vmxsim {

/// "0x1f": addresses, qualifications and entry values in messages.
inline std::string hex(std::uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

}  // namespace vmxsim
