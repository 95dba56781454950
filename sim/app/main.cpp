// vmxsim command line: `run`, `config show`, `sweep`, `trace ...`, `list`,
// `stats list`, --help, --version.
// Exit status: 0 success, 1 a run or config error (one line on stderr),
// 2 a usage error, 3 a checker violation with --fail-on-violation.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <systemc>

#include "sim/app/cli.hpp"
#include "sim/app/dump.hpp"
#include "sim/app/list_cli.hpp"
#include "sim/app/progress.hpp"
#include "sim/app/simulation.hpp"
#include "sim/app/stats_cli.hpp"
#include "sim/app/sweep/cli.hpp"
#include "sim/app/timeline.hpp"
#include "sim/app/trace_cli.hpp"
#include "sim/config.hpp"
#include "sim/registry.hpp"

namespace po = boost::program_options;
using namespace vmxsim;
using cli::UsageError;

namespace {

using cli::config_options;
using cli::load;
using cli::parse;

const char* kUsage =
    "usage: vmxsim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run CONFIG [--set key.path=value]... [--stats FILE] [--timeline FILE] [--quiet]\n"
    "      [--progress | --no-progress] [--dump FILE [--dump-at CYCLES]...]\n"
    "                 simulate CONFIG and print a summary\n"
    "  config show CONFIG [--set key.path=value]...\n"
    "                 print the effective config, every default filled in\n"
    "  sweep SPEC [--out DIR] [--jobs N] [--shard i/n]\n"
    "                 run every point of a parameter sweep (docs/sweep.md)\n"
    "  trace convert IN OUT\n"
    "                 convert a trace between text and binary (.vtr), by extension\n"
    "  trace info FILE [--json]\n"
    "                 accesses, per-vCPU counts, type mix, pages, address range\n"
    "  trace gen CONFIG OUT [--set key.path=value]...\n"
    "                 write CONFIG's generator stream (every vCPU) to a trace file\n"
    "  trace import --from lackey IN... OUT [--interleave round-robin|gap] [--gap-cycles N]\n"
    "                 import valgrind lackey output; input k becomes vCPU k\n"
    "  list [--json]\n"
    "                 every registry (PML engines, fault paths, replacement policies,\n"
    "                 trace formats, ...) and its variants, each with a description\n"
    "  stats list [CONFIG] [--set key.path=value]... [--markdown | --json] [--undescribed]\n"
    "                 every stat CONFIG's run would emit, with kind, unit and description\n"
    "                 (docs/stats.md)\n"
    "\n"
    "A trace file ending in .vtr is binary, any other is text (docs/traces.md;\n"
    "`vmxsim list` shows the trace formats).\n"
    "CONFIG is a JSON file; its top-level \"include\" key may name other config\n"
    "files (e.g. the hardware presets in configs/hw/) to merge under it.\n"
    "\n"
    "options:\n"
    "  -h, --help     this help (also `vmxsim <command> --help`)\n"
    "  --version      print the version\n";

int cmd_run(const std::vector<std::string>& args) {
  po::options_description desc = config_options();
  desc.add_options()("stats", po::value<std::string>(), "write every stat as one flat JSON object to FILE")(
      "timeline", po::value<std::string>(),
      "write a timeline of the run (exits, handler phases, locks, guest runs, VMM operations) to FILE as "
      "Chrome trace-event JSON, for ui.perfetto.dev or chrome://tracing (docs/timeline.md)")(
      "quiet,q", "print nothing on success")("fail-on-violation",
                                             "exit with status 3 if a checker (check.dirty_log, check.page_track, "
                                             "check.pt_free, check.nested) found a violation")(
      "progress", "draw the progress bar on stderr even when it is not a terminal")(
      "no-progress", "never draw the progress bar (by default it is drawn when stderr is a terminal)")(
      "dump", po::value<std::string>(),
      "write snapshots of the simulated state (EPT and guest page tables, TLBs, PML logs, memslots, dirty "
      "bitmaps) to FILE as JSON: one at the end of the run, after one per --dump-at (docs/inspect.md)")(
      "dump-at", po::value<std::vector<std::string>>()->composing(),
      "with --dump, also take a snapshot at simulated cycle CYCLES: shared state as of that cycle, each vCPU's "
      "at its first access boundary at or after it; repeatable (docs/inspect.md)");
  po::variables_map vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "usage: vmxsim run CONFIG [options]\n\n"
                 "Simulate CONFIG. CONFIG may include other config files: its top-level\n"
                 "\"include\" key names them relative to CONFIG's folder, e.g. a hardware preset\n"
                 "(\"include\": \"../hw/skylake-sp.json\"); they are merged under CONFIG's own keys.\n\n"
              << desc;
    return 0;
  }
  std::vector<Cycles> dump_times;
  if (vm.count("dump-at")) {
    if (!vm.count("dump")) throw UsageError("--dump-at needs --dump FILE (the file the snapshots go to)");
    for (const std::string& t : vm["dump-at"].as<std::vector<std::string>>()) {
      try {
        dump_times.push_back(sim::parse_dump_cycle(t));
      } catch (const Error& e) {
        throw UsageError(e.what());
      }
    }
  }
  sim::SimParams p = load(vm, nullptr);
  std::unique_ptr<sim::Dump> dump;  // opened before the run: a bad path fails first
  if (vm.count("dump")) dump = std::make_unique<sim::Dump>(vm["dump"].as<std::string>(), dump_times);
  std::ofstream stats_out;
  if (vm.count("stats")) {  // open first: a bad path fails before the run
    stats_out.open(vm["stats"].as<std::string>());
    if (!stats_out) throw Error(vm["stats"].as<std::string>() + ": cannot write stats file");
  }
  std::ofstream timeline_out;
  std::unique_ptr<sim::Timeline> timeline;  // null: nothing is recorded
  if (vm.count("timeline")) {               // likewise opened before the run
    timeline_out.open(vm["timeline"].as<std::string>(), std::ios::binary);
    if (!timeline_out) throw Error(vm["timeline"].as<std::string>() + ": cannot write timeline file");
    timeline = std::make_unique<sim::Timeline>(p.freq_ghz);
  }
  // The bar is drawn on stderr when it is a terminal, unless --quiet or --no-progress.
  const bool want_progress =
      vm.count("progress") || (!vm.count("quiet") && !vm.count("no-progress") && ::isatty(STDERR_FILENO));
  std::unique_ptr<sim::Progress> progress;
  if (want_progress) progress = std::make_unique<sim::Progress>(std::cerr);
  sim::Simulation simulation(p, timeline.get(), progress.get(), dump.get());
  for (const std::string& w : simulation.warnings()) std::cerr << "vmxsim: warning: " << w << "\n";
  simulation.run();
  if (dump) dump->write();
  if (vm.count("stats")) {
    stats_out << simulation.stats().to_json().dump(2) << "\n";
    if (!stats_out) throw Error(vm["stats"].as<std::string>() + ": error writing stats file");
  }
  if (timeline) {
    const std::string& path = vm["timeline"].as<std::string>();
    timeline->write(timeline_out);
    timeline_out.close();
    if (!timeline_out) throw Error(path + ": error writing timeline file");
    if (timeline->dropped())
      std::cerr << "vmxsim: warning: timeline: the cap of " << timeline->max_events() << " events was reached; "
                << timeline->dropped() << " later events were dropped, so " << path
                << " is incomplete (see its otherData)\n";
  }
  if (!vm.count("quiet")) std::cout << simulation.summary();
  // Checker violations: one line each (the first 20), then a count.
  const auto& losses = simulation.losses();
  for (std::size_t i = 0; i < losses.size() && i < 20; ++i) {
    const auto& l = losses[i];
    std::cerr << "vmxsim: dirty-log oracle: vcpu" << l.vcpu << " wrote GPA 0x" << std::hex << l.gpa << std::dec
              << " at cycle " << l.write << ", but the page was "
              << (l.copy == ~Cycles{0} ? std::string("never copied") : "last copied at cycle " + std::to_string(l.copy))
              << ": the write is lost\n";
  }
  const hv::TrackOracle& track = simulation.hypervisor().checkers().track();
  for (std::size_t i = 0; i < track.bypasses().size() && i < 20; ++i) {
    const auto& b = track.bypasses()[i];
    std::cerr << "vmxsim: write-track oracle: vcpu" << b.vcpu << " wrote GPA 0x" << std::hex << b.gpa << std::dec
              << " at cycle " << b.t << " without a VM exit while the page was write-tracked\n";
  }
  if (track.bypassed)
    std::cerr << "vmxsim: write-track oracle: " << track.bypassed
              << " untrapped write(s) (stat check.track_bypassed)\n";
  if (!losses.empty())
    std::cerr << "vmxsim: dirty-log oracle: " << losses.size() << " lost page(s) (stat check.dirty_lost)\n";
  const hv::PtFreeOracle& uaf = simulation.hypervisor().checkers().pt_free();
  for (std::size_t i = 0; i < uaf.violations().size() && i < 20; ++i) {
    const auto& v = uaf.violations()[i];
    std::cerr << "vmxsim: page-table free oracle: " << v.walker << " on thread " << v.thread
              << " read its pointer to table 0x" << std::hex << v.page << std::dec << " at cycle " << v.held_at
              << "; the table was freed at cycle " << v.freed_at << " and the walker used it at cycle " << v.used_at
              << ": use after free\n";
  }
  if (uaf.count)
    std::cerr << "vmxsim: page-table free oracle: " << uaf.count
              << " use(s) after free (stat check.pt_free_violations)\n";
  std::uint64_t incoherent = 0;
  if (hv::NestedMmu* n = simulation.hypervisor().nested()) {
    incoherent = n->violations;
    for (std::size_t i = 0; i < n->incoherences().size() && i < 20; ++i) {
      const auto& b = n->incoherences()[i];
      std::cerr << "vmxsim: shadow coherence oracle: EPT02 leaf for L2 GPA 0x" << std::hex << b.l2_gpa << " (level "
                << std::dec << b.level << ", entry 0x" << std::hex << b.ept02 << std::dec
                << ") is not EPT12 composed with L0's map: " << b.why << "\n";
    }
    if (incoherent)
      std::cerr << "vmxsim: shadow coherence oracle: " << incoherent
                << " incoherent EPT02 leaf (leaves) (stat check.nested_violations)\n";
  }
  if ((!losses.empty() || track.bypassed || uaf.count || incoherent) && vm.count("fail-on-violation")) return 3;
  return 0;
}

int cmd_config(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: vmxsim config show CONFIG [--set key.path=value]...\n\n"
                 "Print the effective config: every key every component reads, with the value\n"
                 "from CONFIG and --set or its default. CONFIG may include other config files\n"
                 "(its top-level \"include\" key, e.g. a hardware preset from configs/hw/);\n"
                 "the printed config is the merged result.\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "show") throw UsageError("unknown config command '" + args[0] + "' (known: show)");
  po::options_description desc = config_options();
  po::variables_map vm = parse(std::vector<std::string>(args.begin() + 1, args.end()), desc);
  if (vm.count("help")) {
    std::cout << "usage: vmxsim config show CONFIG [options]\n\n"
                 "Print the effective config of CONFIG (merged with the files it includes).\n\n"
              << desc;
    return 0;
  }
  json effective;
  load(vm, &effective);
  std::cout << effective.dump(2) << "\n";
  return 0;
}

}  // namespace

int sc_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty()) {
      std::cerr << kUsage;
      return 2;
    }
    const std::string cmd = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (cmd == "--version") {
      std::cout << "vmxsim " << VMXSIM_VERSION << " (SystemC " << sc_core::sc_release() << ")\n";
      return 0;
    }
    // A variant name registered twice (two files, or a plug-in) is an error
    // before anything runs, never a silent pick of one of them.
    RegistryIndex::instance().check();
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "config") return cmd_config(rest);
    if (cmd == "sweep") return sweep::command(rest);
    if (cmd == "trace") return cli::trace_command(rest);
    if (cmd == "list") return cli::list_command(rest);
    if (cmd == "stats") return cli::stats_command(rest);
    throw UsageError("unknown command '" + cmd + "'");
  } catch (const UsageError& e) {
    std::cerr << "vmxsim: " << e.what() << "\n" << (e.usage.empty() ? "(see vmxsim --help)\n" : e.usage);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vmxsim: error: " << e.what() << "\n";
    return 1;
  }
}
