#include "sim/app/stats_cli.hpp"

#include <iostream>

#include "sim/app/cli.hpp"
#include "sim/app/simulation.hpp"
#include "sim/app/stats_schema.hpp"

namespace vmxsim::cli {

namespace {

constexpr char kDefaultConfig[] = "configs/quickstart.json";

const char* kStatsUsage =
    "usage: vmxsim stats list [CONFIG] [--set key.path=value]... [--markdown | --json] [--undescribed]\n\n"
    "Build the simulation of CONFIG (default: configs/quickstart.json, from the\n"
    "current folder) without running it, and print every stat the run would\n"
    "emit: name, kind (counter, histogram, value), unit and description. A stat\n"
    "of every vCPU is shown once (vcpu<N>.accesses), per-round VMM stats as\n"
    "vmm.round.<N>.pages, a histogram as its keys <name>.count, .sum, .max and\n"
    "<name>.<bucket>. docs/stats.md lists the stats of every shipped config.\n\n";

int cmd_list(const std::vector<std::string>& args) {
  po::options_description desc = config_options();
  desc.add_options()("markdown", "print a Markdown table (docs/stats.md's rows)")(
      "json", "print a JSON array of {name, kind, unit, description}")(
      "undescribed", "print only the stats still registered without a unit or description (unit \"?\")");
  po::variables_map vm;
  try {
    vm = parse(args, desc);
  } catch (UsageError& e) {
    e.usage = kStatsUsage;
    throw;
  }
  if (vm.count("help")) {
    std::cout << kStatsUsage << desc;
    return 0;
  }
  if (vm.count("markdown") && vm.count("json"))
    throw UsageError("--markdown and --json exclude each other", kStatsUsage);
  const std::string config = vm.count("config") ? vm["config"].as<std::string>() : kDefaultConfig;
  const sim::SimParams p = load(config, sets_of(vm), nullptr);
  const sim::Simulation simulation(p);  // elaborated, never run
  std::vector<sim::StatRow> rows = sim::stat_rows(simulation.schema());
  if (vm.count("undescribed")) {
    std::vector<sim::StatRow> kept;
    for (auto& r : rows)
      if (r.undescribed()) kept.push_back(std::move(r));
    rows = std::move(kept);
  }
  if (vm.count("markdown")) std::cout << sim::rows_markdown(rows);
  else if (vm.count("json")) std::cout << sim::rows_json(rows);
  else std::cout << sim::rows_text(rows);
  return 0;
}

}  // namespace

int stats_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kStatsUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "list") throw UsageError("unknown stats command '" + args[0] + "' (known: list)", kStatsUsage);
  return cmd_list(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace vmxsim::cli
