#include "sim/app/sweep/sweep.hpp"

#include <signal.h>  // kill
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "sim/app/cli.hpp"
#include "sim/app/sweep/process.hpp"
#include "sim/app/sweep/progress.hpp"
#include "sim/app/sweep/results.hpp"

namespace vmxsim::sweep {

namespace fs = std::filesystem;

namespace {

// How often the scheduler looks for ended children and redraws progress.
constexpr auto kPollInterval = std::chrono::milliseconds(10);
// A point's error message keeps this much of its last stderr line.
constexpr std::size_t kMaxErrorChars = 400;

volatile std::sig_atomic_t g_signal = 0;  // SIGINT or SIGTERM received, 0 if none
extern "C" void on_signal(int sig) { g_signal = sig; }

// Catches SIGINT and SIGTERM while alive (a cluster scheduler cancels with
// SIGTERM), restoring the previous handlers after.
class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > kMaxErrorChars) last = last.substr(0, kMaxErrorChars) + "...";
  return last;
}

// The base config with the spec's fixed overrides, every default filled, as
// `vmxsim config show` prints it: its errors are the base config's errors.
json effective_base(const std::string& exe, const Spec& spec, const std::string& dir) {
  std::vector<std::string> argv = {exe, "config", "show", spec.base};
  for (const auto& a : spec.fixed) {
    argv.push_back("--set");
    argv.push_back(a.arg());
  }
  const std::string out = temp_path(dir + "/base_config.json"), err = out + ".err";
  const Exit e = wait_for(spawn(argv, out, err));
  const std::string text = slurp(out), msg = last_line(slurp(err));
  std::remove(out.c_str());
  std::remove(err.c_str());
  if (!e.ok()) {
    const std::string prefix = "vmxsim: error: ";  // how the child reports errors
    throw Error(spec.path + ": base config " + spec.base + " (with the spec's \"set\"): " +
                (msg.empty()                             ? e.describe()
                 : msg.compare(0, prefix.size(), prefix) ? msg
                                                         : msg.substr(prefix.size())));
  }
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw Error(spec.base + ": `vmxsim config show` printed no config");
  return doc;
}

// Reads every point's config as its run would (the base config, the spec's
// "set", the point's parameters and seeds), so that a misspelt key or an
// impossible value stops the sweep before any point runs, naming the point.
// Only the parameters are read (SimParams), never the simulation built: that
// is heavy, and the run's own work.
void validate_points(const Spec& spec, const std::vector<Point>& points) {
  for (const Point& p : points) {
    const std::string name = "sweep point " + std::to_string(p.index);
    std::vector<cli::Override> overrides;
    std::string params;  // "grid a=1, zip b=2": the point, for errors not about one override
    for (const auto& a : spec.fixed) overrides.push_back({a.arg(), name + " (set " + a.arg() + ")"});
    for (std::size_t k = 0; k < p.params.size(); ++k) {
      const std::string what = std::string(k < spec.grid.size() ? "grid " : "zip ") + p.params[k].arg();
      overrides.push_back({p.params[k].arg(), name + " (" + what + ")"});
      params += (params.empty() ? "" : ", ") + what;
    }
    for (const auto& a : p.seeds)
      overrides.push_back({a.arg(), name + " (repeat " + std::to_string(p.repeat) + ": " + a.arg() + ")"});
    try {
      cli::load(spec.base, overrides, nullptr);
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      const bool named = msg.compare(0, name.size() + 1, name + " ") == 0;
      throw Error(spec.path + ": " + (named ? msg : name + (params.empty() ? "" : " (" + params + ")") + ": " + msg) +
                  " (no point was run)");
    }
  }
}

// A child running one point.
struct Running {
  const Point* point;
  std::string stats_file;
  std::chrono::steady_clock::time_point start;
};

}  // namespace

std::string out_dir(const Options& o, const Spec& spec) { return o.out.empty() ? spec.name + ".sweep" : o.out; }

int run(const Options& o, std::ostream& out, std::ostream& err) {
  const Spec spec = load_spec(o.spec);
  const std::string exe = o.exe.empty() ? self_exe() : o.exe;
  const unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  const std::string dir = out_dir(o, spec);
  SignalGuard signals;

  {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the sweep's output folder: " + ec.message());
  }
  const json base = effective_base(exe, spec, dir);
  const std::vector<Point> points = expand(spec, base);
  validate_points(spec, points);  // every point, not only this shard's: a shard's error is the study's
  const std::string fingerprint = stable_hash(base.dump());
  const OutDir results(dir, fingerprint);
  results.create();
  write_atomic(dir + "/spec.json", slurp(spec.path));
  write_atomic(dir + "/base_config.json", base.dump(2) + "\n");

  std::vector<const Point*> todo;
  std::size_t mine = 0;
  for (const auto& p : points) {
    if (!o.shard.has(p.index)) continue;
    ++mine;
    if (!results.complete(p)) todo.push_back(&p);
  }

  Progress progress(err, spec.name, todo.size(), stderr_is_tty());
  std::map<pid_t, Running> running;
  std::size_t next = 0, done = 0, failed = 0;
  bool stopping = false;

  const auto start = [&](const Point& p) {
    const std::string stats = temp_path(results.record_path(p)) + ".stats";
    std::vector<std::string> argv = {exe, "run", spec.base, "--quiet", "--fail-on-violation", "--stats", stats};
    for (const auto& s : p.set_args(spec)) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    const std::string log = results.log_path(p);
    running[spawn(argv, log, log)] = {&p, stats, std::chrono::steady_clock::now()};
  };
  const auto finish = [&](const Running& r, const Exit& e) {
    Outcome oc;
    oc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
    oc.exit_code = e.code;
    oc.stats = json::parse(slurp(r.stats_file), nullptr, /*allow_exceptions=*/false);
    if (oc.stats.is_discarded() || !oc.stats.is_object()) oc.stats = json();
    std::remove(r.stats_file.c_str());
    oc.ok = e.ok() && !oc.stats.is_null();
    if (!oc.ok) {
      const std::string msg = e.ok() ? "no stats file was written" : last_line(slurp(results.log_path(*r.point)));
      oc.error = e.describe() + (msg.empty() ? "" : ": " + msg);
    }
    results.write(*r.point, make_record(spec, *r.point, fingerprint, oc));
    ++done;
    if (!oc.ok) {
      ++failed;
      progress.clear();
      err << "vmxsim sweep: point " << r.point->index << " (" << r.point->id << ") failed: " << oc.error
          << "; log: " << results.log_path(*r.point) << "\n";
    }
  };
  const auto stop_all = [&]() {
    for (const auto& kv : running) kill(kv.first, SIGTERM);
    for (const auto& kv : running) {
      wait_for(kv.first);
      std::remove(kv.second.stats_file.c_str());
    }
    running.clear();
  };

  try {
    while (!stopping && (next < todo.size() || !running.empty())) {
      if (g_signal) {
        stopping = true;
        break;
      }
      while (running.size() < jobs && next < todo.size()) start(*todo[next++]);
      progress.update(done, running.size(), failed);
      Exit e;
      const pid_t pid = reap_any(e);
      if (pid == 0) {
        std::this_thread::sleep_for(kPollInterval);
        continue;
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;  // not a point (cannot happen: we start no other child)
      // Once interrupted, a point that did not succeed was most likely stopped by
      // the user's Ctrl-C (it shares our terminal): not a failed point, no record.
      if (g_signal && !e.ok()) {
        std::remove(it->second.stats_file.c_str());
        running.erase(it);
        stopping = true;
        break;
      }
      finish(it->second, e);
      running.erase(it);
    }
    if (stopping) stop_all();
  } catch (...) {
    stop_all();
    throw;
  }
  progress.clear();

  const std::size_t recorded = results.write_tables(spec, points, err);
  std::size_t failed_mine = 0;
  for (const auto& p : points)
    if (o.shard.has(p.index) && !results.complete(p)) ++failed_mine;
  const std::string where =
      o.shard.count > 1 ? " (shard " + std::to_string(o.shard.index) + "/" + std::to_string(o.shard.count) + ")" : "";
  if (stopping) {
    err << "vmxsim sweep: interrupted: " << done << " point(s) finished and are kept; run the same command again "
        << "to resume\n";
    return kExitSignalBase + g_signal;
  }
  out << "sweep " << spec.name << where << ": " << mine << " point(s): " << done << " run, " << mine - todo.size()
      << " already complete, " << failed << " failed; " << dir << "/results.csv has " << recorded << " of "
      << points.size() << " point(s)\n";
  return failed_mine ? kExitPointsFailed : 0;
}

}  // namespace vmxsim::sweep
