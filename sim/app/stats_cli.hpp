// `vmxsim stats list`: every stat a config's simulation would emit, with its
// kind, unit and description, from the elaborated (not run) simulation.
// docs/stats.md is generated from it (scripts/gen_stats_doc.sh).
#pragma once
#include <string>
#include <vector>

namespace vmxsim::cli {

/// Runs `stats ...` with the arguments after the word "stats". Returns the
/// exit status; throws UsageError (exit 2) or vmxsim::Error (exit 1).
int stats_command(const std::vector<std::string>& args);

}  // namespace vmxsim::cli
