// `vmxsim sweep`: runs a spec's points, each as a `vmxsim run` child process,
// several at a time, skipping those already complete, and rebuilds the
// result tables. See docs/sweep.md.
#pragma once
#include <ostream>
#include <string>

#include "sim/app/sweep/spec.hpp"

namespace vmxsim::sweep {

/// Exit statuses beyond vmxsim's 0 (all points ok), 1 (error) and 2 (usage).
constexpr int kExitPointsFailed = 4;  // the sweep ran, but some of its points failed
constexpr int kExitSignalBase = 128;  // interrupted by signal s: 128 + s, as a shell reports it

struct Options {
  std::string spec;
  std::string out;    // empty: "<spec name>.sweep" in the current folder
  unsigned jobs = 0;  // points at a time; 0: one per hardware thread
  Shard shard;
  std::string exe;  // the vmxsim to run points with; empty: this executable
};

/// The output folder `o` names, or the default for `spec`.
std::string out_dir(const Options& o, const Spec& spec);

/// Runs the sweep. Prints the summary on `out`, progress (on a terminal) and
/// failed points on `err`. Returns 0, kExitPointsFailed, or 128 + signal when
/// interrupted by SIGINT or SIGTERM. Throws Error for a bad spec, base
/// config or point config (every point's is read before any runs), or an
/// output folder it cannot write.
int run(const Options& o, std::ostream& out, std::ostream& err);

}  // namespace vmxsim::sweep
