// `vmxsim list`: every registry (the config key choosing among its variants,
// and its title) and every variant with its one-line description, sorted.
#pragma once
#include <string>
#include <vector>

namespace vmxsim::cli {

/// Runs `list` with the arguments after the word "list". Returns the exit
/// status; throws UsageError (exit 2) or vmxsim::Error (exit 1).
int list_command(const std::vector<std::string>& args);

}  // namespace vmxsim::cli
