#include "sim/app/trace_cli.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "sim/app/cli.hpp"
#include "sim/error.hpp"
#include "traces/lackey.hpp"
#include "traces/trace_file.hpp"
#include "traces/trace_summary.hpp"

namespace vmxsim::cli {

namespace {

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
    po::store(po::command_line_parser(args).options(desc).style(cli::kOptionStyle).positional(pos).run(), vm);
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
  if (vm.count("json")) std::cout << traces::to_json(s).dump(2) << "\n";
  else std::cout << traces::to_text(s);
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
  desc.add_options()("help,h", "show this help")("from", po::value<std::string>(), "input format: lackey (required)")(
      "interleave", po::value<std::string>()->default_value("round-robin"),
      "how inputs are merged: round-robin (one record each in turn) or gap (by guest time: each "
      "record counts its gap + 1 cycles)")("gap-cycles", po::value<std::uint32_t>()->default_value(0),
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
  if (mode == "gap") o.interleave = traces::Interleave::kGap;
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

}  // namespace

int trace_command(const std::vector<std::string>& args) {
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

}  // namespace vmxsim::cli
