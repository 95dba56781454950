#include "sim/app/sweep/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sim/error.hpp"

extern char** environ;

namespace vmxsim::sweep {

namespace {

constexpr mode_t kFileMode = 0644;
constexpr int kShellSignalBase = 128;  // a shell reports death by signal s as 128 + s

Exit decode(int status) {
  Exit e;
  if (WIFEXITED(status)) {
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
    e.code = kShellSignalBase + e.signal;
  }
  return e;
}

// posix_spawn's resources, released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the vmxsim executable (/proc/self/exe): " + ec.message());
  return p.string();
}

std::string Exit::describe() const {
  return signal ? "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")"
                : "exit " + std::to_string(code);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file) {
  SpawnSetup s;
  posix_spawn_file_actions_addopen(&s.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&s.actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   kFileMode);
  if (err_file == out_file) posix_spawn_file_actions_adddup2(&s.actions, STDOUT_FILENO, STDERR_FILENO);
  else
    posix_spawn_file_actions_addopen(&s.actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     kFileMode);
  // The child starts with default signal handling, whatever the sweep installed.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv.at(0).c_str(), &s.actions, &s.attr, args.data(), environ);
  if (rc != 0) throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

pid_t reap_any(Exit& exit) {
  int status = 0;
  const pid_t pid = waitpid(-1, &status, WNOHANG);
  if (pid <= 0) return 0;  // none ended, EINTR, or no children
  exit = decode(status);
  return pid;
}

Exit wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
  }
  return decode(status);
}

}  // namespace vmxsim::sweep
