// `vmxsim trace convert|info|gen|import`: trace files from the command line
// (docs/traces.md).
#pragma once
#include <string>
#include <vector>

namespace vmxsim::cli {

/// Runs `trace ...` with the arguments after the word "trace". Returns the
/// exit status; throws UsageError (exit 2) or vmxsim::Error (exit 1).
int trace_command(const std::vector<std::string>& args);

}  // namespace vmxsim::cli
