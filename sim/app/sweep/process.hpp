// Child processes for the sweep: each point is a `vmxsim run` of its own
// (SystemC elaborates once per process). POSIX posix_spawn and waitpid.
#pragma once
#include <sys/types.h>
#include <string>
#include <vector>

namespace vmxsim::sweep {

/// The running executable (/proc/self/exe), so points run the same build.
std::string self_exe();

/// Starts `argv` (argv[0] is the program path) with stdin from /dev/null,
/// stdout written to `out_file` and stderr to `err_file` (both truncated;
/// they may be the same file). Throws Error if it cannot start.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file);

/// How a child ended.
struct Exit {
  int code = 0;    // exit status, or 128 + signal when killed (as a shell reports it)
  int signal = 0;  // the signal that killed it, 0 if it exited
  bool ok() const { return code == 0 && signal == 0; }
  std::string describe() const;  // "exit 1" or "killed by signal 9"
};

/// Reaps one ended child if any: returns its pid and fills `exit`, or 0 when
/// none has ended yet (or on EINTR). Never blocks.
pid_t reap_any(Exit& exit);

/// Waits for `pid` (retrying on EINTR) and returns how it ended.
Exit wait_for(pid_t pid);

}  // namespace vmxsim::sweep
