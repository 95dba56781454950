// The message of the vmxsim::Error that `f` throws, or "(no error)".
#pragma once
#include <functional>
#include <string>

#include "sim/error.hpp"

namespace vmxsim::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace vmxsim::test
