// User-facing errors: bad config, bad trace, unresolvable guest behaviour.
// main() prints what() on one line and exits non-zero; nothing else catches them.
#pragma once
#include <stdexcept>
#include <string>

namespace vmxsim {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace vmxsim
