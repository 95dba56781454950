// `vmxsim sweep SPEC [options]`: the command line of sweep::run.
#pragma once
#include <string>
#include <vector>

namespace vmxsim::sweep {

/// Runs the `sweep` command with the arguments after the word "sweep".
/// Returns the exit status; usage errors print to stderr and return 2.
/// Errors (a bad spec or base config) are thrown as vmxsim::Error.
int command(const std::vector<std::string>& args);

}  // namespace vmxsim::sweep
