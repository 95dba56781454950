// vmxsim command line: `run`, `config show`, `sweep`, `trace ...`, --help, --version.
// Exit status: 0 success, 1 a run or config error (one line on stderr),
// 2 a usage error, 3 a checker violation with --fail-on-violation.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <systemc>

#include "sim/config.hpp"
#include "sim/progress.hpp"
#include "sim/simulation.hpp"
#include "sim/timeline.hpp"
#include "sim/sweep/cli.hpp"
#include "traces/lackey.hpp"
#include "traces/trace_file.hpp"
#include "traces/trace_summary.hpp"

namespace po = boost::program_options;
using namespace vmxsim;

namespace {

const char* kUsage =
    "usage: vmxsim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run CONFIG [--set key.path=value]... [--stats FILE] [--timeline FILE] [--quiet]\n"
    "      [--progress | --no-progress]\n"
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
    "\n"
    "A trace file ending in .vtr is binary, any other is text (docs/traces.md).\n"
    "CONFIG is a JSON file; its top-level \"include\" key may name other config\n"
    "files (e.g. the hardware presets in configs/hw/) to merge under it.\n"
    "\n"
    "options:\n"
    "  -h, --help     this help (also `vmxsim <command> --help`)\n"
    "  --version      print the version\n";

/// A usage error: exit 2, with the command's usage if given (else a pointer to --help).
struct UsageError : std::runtime_error {
  explicit UsageError(const std::string& what, std::string usage_text = "")
      : std::runtime_error(what), usage(std::move(usage_text)) {}
  std::string usage;
};

po::options_description config_options() {
  po::options_description d("options");
  d.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a config key: key.path=value (value parsed as JSON, else taken as a string); repeatable");
  return d;
}

// Parses `args` (after the command words) with `desc` and one positional CONFIG.
po::variables_map parse(const std::vector<std::string>& args, po::options_description desc) {
  desc.add_options()("config", po::value<std::string>(), "config file");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Loads the config at `path`, applies the `sets` overrides (key.path=value),
// reads every component's params.
sim::SimParams load(const std::string& path, const std::vector<std::string>& sets, json* effective) {
  ConfigOrigins origins;
  json doc = load_config_file(path, &origins);  // CONFIG merged with the files it includes
  std::vector<std::string> keys;
  for (const auto& s : sets) {
    apply_override(doc, s);
    keys.push_back(s.substr(0, s.find('=')));
    origins.assign(keys.back(), "");  // from the command line, not a file
  }
  // A relative workload.trace resolves against the folder of the file that
  // set it (an included file's, when it came from one).
  const std::string trace_file = origins.of("workload.trace");
  ConfigTracker tracker(std::move(doc), path);
  tracker.set_origins(std::move(origins));
  sim::SimParams p =
      sim::SimParams::read(tracker, dir_of(trace_file.empty() ? path : trace_file), keys);
  if (effective) *effective = tracker.effective();
  return p;
}

std::vector<std::string> sets_of(const po::variables_map& vm) {
  return vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// CONFIG and --set from the command line.
sim::SimParams load(const po::variables_map& vm, json* effective) {
  if (!vm.count("config")) throw UsageError("missing CONFIG argument");
  return load(vm["config"].as<std::string>(), sets_of(vm), effective);
}

int cmd_run(const std::vector<std::string>& args) {
  po::options_description desc = config_options();
  desc.add_options()("stats", po::value<std::string>(), "write every stat as one flat JSON object to FILE")(
      "timeline", po::value<std::string>(),
      "write a timeline of the run (exits, handler phases, locks, guest runs, VMM operations) to FILE as "
      "Chrome trace-event JSON, for ui.perfetto.dev or chrome://tracing (docs/timeline.md)")(
      "quiet,q", "print nothing on success")(
      "fail-on-violation", "exit with status 3 if a checker (check.dirty_log, check.page_track) found a violation")(
      "progress", "draw the progress bar on stderr even when it is not a terminal")(
      "no-progress", "never draw the progress bar (by default it is drawn when stderr is a terminal)");
  po::variables_map vm = parse(args, desc);
  if (vm.count("help")) {
    std::cout << "usage: vmxsim run CONFIG [options]\n\n"
                 "Simulate CONFIG. CONFIG may include other config files: its top-level\n"
                 "\"include\" key names them relative to CONFIG's folder, e.g. a hardware preset\n"
                 "(\"include\": \"../hw/skylake-sp.json\"); they are merged under CONFIG's own keys.\n\n"
              << desc;
    return 0;
  }
  sim::SimParams p = load(vm, nullptr);
  std::ofstream stats_out;
  if (vm.count("stats")) {  // open first: a bad path fails before the run
    stats_out.open(vm["stats"].as<std::string>());
    if (!stats_out) throw Error(vm["stats"].as<std::string>() + ": cannot write stats file");
  }
  std::ofstream timeline_out;
  std::unique_ptr<sim::Timeline> timeline;  // null: nothing is recorded
  if (vm.count("timeline")) {  // likewise opened before the run
    timeline_out.open(vm["timeline"].as<std::string>(), std::ios::binary);
    if (!timeline_out) throw Error(vm["timeline"].as<std::string>() + ": cannot write timeline file");
    timeline = std::make_unique<sim::Timeline>(p.freq_ghz);
  }
  // The bar is drawn on stderr when it is a terminal, unless --quiet or --no-progress.
  const bool want_progress =
      vm.count("progress") || (!vm.count("quiet") && !vm.count("no-progress") && ::isatty(STDERR_FILENO));
  std::unique_ptr<sim::Progress> progress;
  if (want_progress) progress = std::make_unique<sim::Progress>(std::cerr);
  sim::Simulation simulation(p, timeline.get(), progress.get());
  simulation.run();
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
              << (l.copy == ~Cycles{0} ? std::string("never copied")
                                       : "last copied at cycle " + std::to_string(l.copy))
              << ": the write is lost\n";
  }
  const hv::PageTrack& track = simulation.hypervisor().page_track();
  for (std::size_t i = 0; i < track.bypasses().size() && i < 20; ++i) {
    const auto& b = track.bypasses()[i];
    std::cerr << "vmxsim: write-track oracle: vcpu" << b.vcpu << " wrote GPA 0x" << std::hex << b.gpa << std::dec
              << " at cycle " << b.t << " without a VM exit while the page was write-tracked\n";
  }
  if (track.bypassed)
    std::cerr << "vmxsim: write-track oracle: " << track.bypassed << " untrapped write(s) (stat check.track_bypassed)\n";
  if (!losses.empty())
    std::cerr << "vmxsim: dirty-log oracle: " << losses.size() << " lost page(s) (stat check.dirty_lost)\n";
  if ((!losses.empty() || track.bypassed) && vm.count("fail-on-violation")) return 3;
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

// ---- vmxsim trace ----------------------------------------------------------

const char* kTraceUsage =
    "usage: vmxsim trace <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert IN OUT           convert between text and binary (.vtr), by extension\n"
    "  info FILE [--json]       accesses, per-vCPU counts, type mix, unique 4 KiB pages,\n"
    "                           address range\n"
    "  gen CONFIG OUT [--set key.path=value]...\n"
    "                           write CONFIG's generator stream (all vCPUs) to OUT\n"
    "  import --from lackey IN... OUT [--interleave round-robin|gap] [--gap-cycles N]\n"
    "                           import valgrind --tool=lackey --trace-mem=yes output;\n"
    "                           input k becomes vCPU k\n"
    "\n"
    "A file ending in .vtr is binary, any other is text (docs/traces.md).\n"
    "`vmxsim trace <command> --help` describes each command.\n";

constexpr std::size_t kCopyBatch = 256;

/// Parses a trace command's options; `names` are its positional arguments in
/// order (the last may take the rest when `rest_last`).
po::variables_map parse_trace(const std::vector<std::string>& args, po::options_description desc,
                              const std::vector<std::string>& names, const std::string& usage) {
  po::positional_options_description pos;
  for (std::size_t i = 0; i < names.size(); ++i) {
    desc.add_options()(names[i].c_str(), po::value<std::vector<std::string>>(), "");
    pos.add(names[i].c_str(), i + 1 == names.size() ? -1 : 1);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what(), usage);
  }
  return vm;
}

/// The positional arguments, checked to be exactly `count` (or at least, if `at_least`).
std::vector<std::string> positionals(const po::variables_map& vm, const std::vector<std::string>& names,
                                     std::size_t count, bool at_least, const std::string& usage) {
  std::vector<std::string> all;
  for (const auto& n : names)
    if (vm.count(n))
      for (const auto& v : vm[n].as<std::vector<std::string>>()) all.push_back(v);
  if (all.size() < count) throw UsageError("missing arguments", usage);
  if (!at_least && all.size() > count) throw UsageError("too many arguments: '" + all[count] + "'", usage);
  return all;
}

/// Runs `write` on a new trace file at `out`; removes the file if it fails, so
/// no half-written trace is left behind.
template <class Write>
void writing(const std::string& out, Write write) {
  try {
    write();
  } catch (...) {
    std::remove(out.c_str());
    throw;
  }
}

void refuse_same_file(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec))
    throw Error(out + ": the output is the input file; write to another path");
}

int cmd_trace_convert(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: vmxsim trace convert IN OUT\n\n"
      "Convert a trace: .vtr files are binary, others text; text to text gives the\n"
      "canonical text form, binary to binary re-encodes. The input is checked\n"
      "completely; a text input is read twice (first to count its vCPUs).\n\n";
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help");
  const auto vm = parse_trace(args, desc, {"files"}, usage);
  if (vm.count("help")) {
    std::cout << usage << desc;
    return 0;
  }
  const auto files = positionals(vm, {"files"}, 2, false, usage);
  const std::string& in = files[0];
  const std::string& out = files[1];
  refuse_same_file(in, out);
  auto reader = traces::open_records(in);
  unsigned vcpus = reader->declared_vcpus();
  std::vector<traces::Record> buf(kCopyBatch);
  if (!traces::is_binary_trace(in)) {  // text declares no count: find the highest vCPU
    while (const std::size_t n = reader->next(buf.data(), buf.size()))
      for (std::size_t i = 0; i < n; ++i) vcpus = std::max(vcpus, buf[i].vcpu + 1);
    reader = traces::open_records(in);
  }
  writing(out, [&] {
    auto writer = traces::create_trace(out, vcpus);
    while (const std::size_t n = reader->next(buf.data(), buf.size()))
      for (std::size_t i = 0; i < n; ++i) writer->write(buf[i]);
    writer->finish();
  });
  return 0;
}

int cmd_trace_info(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: vmxsim trace info FILE [--json]\n\n"
      "Read the whole trace and print its accesses, per-vCPU counts, read/write/exec\n"
      "mix, distinct 4 KiB pages and address range.\n\n";
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("json", "print one JSON object instead");
  const auto vm = parse_trace(args, desc, {"file"}, usage);
  if (vm.count("help")) {
    std::cout << usage << desc;
    return 0;
  }
  const auto files = positionals(vm, {"file"}, 1, false, usage);
  const traces::TraceSummary s = traces::summarize_trace(files[0]);
  if (vm.count("json"))
    std::cout << traces::to_json(s).dump(2) << "\n";
  else
    std::cout << traces::to_text(s);
  return 0;
}

int cmd_trace_gen(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: vmxsim trace gen CONFIG OUT [--set key.path=value]...\n\n"
      "Write the accesses `vmxsim run CONFIG` would generate (workload.generator,\n"
      "for each of cpu.vcpus vCPUs, even when workload.trace is set) to OUT. Records\n"
      "are written 256 per vCPU in turn; running OUT as workload.trace replays them.\n\n";
  po::options_description desc = config_options();
  const auto vm = parse_trace(args, desc, {"files"}, usage);
  if (vm.count("help")) {
    std::cout << usage << desc;
    return 0;
  }
  const auto files = positionals(vm, {"files"}, 2, false, usage);
  const sim::SimParams p = load(files[0], sets_of(vm), nullptr);
  const std::string& out = files[1];
  writing(out, [&] {
    auto writer = traces::create_trace(out, p.vcpus);
    std::vector<std::unique_ptr<traces::Source>> gens;
    for (unsigned v = 0; v < p.vcpus; ++v) gens.push_back(traces::make_generator(p.generator, v));
    std::vector<Access> buf(kCopyBatch);
    traces::Record r;
    for (bool any = true; any;) {
      any = false;
      for (unsigned v = 0; v < p.vcpus; ++v) {
        const std::size_t n = gens[v]->next(buf.data(), buf.size());
        any |= n != 0;
        r.vcpu = v;
        for (std::size_t i = 0; i < n; ++i) {
          r.access = buf[i];
          writer->write(r);
        }
      }
    }
    writer->finish();
  });
  return 0;
}

int cmd_trace_import(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: vmxsim trace import --from lackey IN... OUT [options]\n\n"
      "Import `valgrind --tool=lackey --trace-mem=yes` output: I becomes X, L R, S W,\n"
      "and M a read then a write. Other lines are skipped. Input k becomes vCPU k.\n"
      "Accesses over 4096 bytes are split into 4096-byte pieces. Addresses are kept\n"
      "as they are (guest-virtual: run with workload.paging on, the default).\n\n";
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("from", po::value<std::string>(),
                                                  "input format: lackey (required)")(
      "interleave", po::value<std::string>()->default_value("round-robin"),
      "how inputs are merged: round-robin (one record each in turn) or gap (by guest time: each "
      "record counts its gap + 1 cycles)")(
      "gap-cycles", po::value<std::uint32_t>()->default_value(0),
      "gap of each instruction fetch, in cycles (data accesses get 0)");
  const auto vm = parse_trace(args, desc, {"files"}, usage);
  if (vm.count("help")) {
    std::cout << usage << desc;
    return 0;
  }
  if (!vm.count("from")) throw UsageError("missing --from (known: lackey)", usage);
  if (vm["from"].as<std::string>() != "lackey")
    throw UsageError("unknown --from '" + vm["from"].as<std::string>() + "' (known: lackey)", usage);
  traces::LackeyOptions o;
  const std::string mode = vm["interleave"].as<std::string>();
  if (mode == "gap")
    o.interleave = traces::Interleave::kGap;
  else if (mode != "round-robin")
    throw UsageError("unknown --interleave '" + mode + "' (known: round-robin, gap)", usage);
  o.gap_cycles = vm["gap-cycles"].as<std::uint32_t>();
  auto files = positionals(vm, {"files"}, 2, true, usage);
  const std::string out = files.back();
  files.pop_back();
  if (files.size() > traces::kMaxTraceVcpus)
    throw UsageError("at most " + std::to_string(traces::kMaxTraceVcpus) + " inputs", usage);
  for (const auto& in : files) refuse_same_file(in, out);
  writing(out, [&] {
    auto writer = traces::create_trace(out, static_cast<unsigned>(files.size()));
    traces::import_lackey(files, o, *writer);
    writer->finish();
  });
  return 0;
}

int cmd_trace(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing trace command", kTraceUsage);
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << kTraceUsage;
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "convert") return cmd_trace_convert(rest);
  if (args[0] == "info") return cmd_trace_info(rest);
  if (args[0] == "gen") return cmd_trace_gen(rest);
  if (args[0] == "import") return cmd_trace_import(rest);
  throw UsageError("unknown trace command '" + args[0] + "' (known: convert, info, gen, import)", kTraceUsage);
}

}  // namespace

int sc_main(
int argc, char** argv) {
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
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "config") return cmd_config(rest);
    if (cmd == "sweep") return sweep::command(rest);
    if (cmd == "trace") return cmd_trace(rest);
    throw UsageError("unknown command '" + cmd + "'");
  } catch (const UsageError& e) {
    std::cerr << "vmxsim: " << e.what() << "\n" << (e.usage.empty() ? "(see vmxsim --help)\n" : e.usage);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vmxsim: error: " << e.what() << "\n";
    return 1;
  }
}

