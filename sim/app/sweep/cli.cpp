#include "sim/app/sweep/cli.hpp"

#include <iostream>
#include <string>

#include <boost/program_options.hpp>

#include "sim/app/cli.hpp"
#include "sim/app/sweep/sweep.hpp"

namespace po = boost::program_options;

namespace vmxsim::sweep {

namespace {
constexpr int kExitUsage = 2;

const char* kHelp =
    "usage: vmxsim sweep SPEC [--out DIR] [--jobs N] [--shard i/n]\n\n"
    "Run every point of the sweep spec SPEC, a JSON file naming a base config and\n"
    "the config keys to vary:\n"
    "  {\"base\": \"cfg.json\", \"grid\": {\"key.path\": [values...]}, \"zip\": {...},\n"
    "   \"set\": {...}, \"repeat\": N, \"stats\": [...]}\n"
    "Each point is a `vmxsim run` of its own. Results go to DIR: points/ (a record\n"
    "and a log per point), results.csv and results.jsonl. Points already complete\n"
    "in DIR are skipped, so running again resumes. Every point's config is checked\n"
    "before any point runs. Exit status: 0 all points ok, 1 an error in the spec,\n"
    "the base config or a point's config, 2 a usage error, 4 some points failed\n"
    "(see results.csv), 128+signal when interrupted. See docs/sweep.md.\n\n";

int usage_error(const std::string& msg) {
  std::cerr << "vmxsim: sweep: " << msg << "\n(see vmxsim sweep --help)\n";
  return kExitUsage;
}
}  // namespace

int command(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")(
      "out,o", po::value<std::string>(), "output folder (default: SPEC's name + \".sweep\", in the current folder)")(
      // int, not unsigned: Boost would wrap "-1" into a huge unsigned
      "jobs,j", po::value<int>(), "points to run at a time (default: one per hardware thread)")(
      "shard", po::value<std::string>(),
      "run only the points whose index % n == i, e.g. 0/4 (for a job array sharing one --out)");
  po::options_description all;
  all.add(desc).add_options()("spec", po::value<std::string>(), "sweep spec");
  po::positional_options_description pos;
  pos.add("spec", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).style(cli::kOptionStyle).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << kHelp << desc;
    return 0;
  }
  if (!vm.count("spec")) return usage_error("missing SPEC argument");
  Options o;
  o.spec = vm["spec"].as<std::string>();
  if (vm.count("out")) o.out = vm["out"].as<std::string>();
  if (vm.count("jobs")) {
    const int jobs = vm["jobs"].as<int>();
    if (jobs < 1) return usage_error("--jobs " + std::to_string(jobs) + ": must be at least 1");
    o.jobs = static_cast<unsigned>(jobs);
  }
  if (vm.count("shard")) {
    try {
      o.shard = parse_shard(vm["shard"].as<std::string>());
    } catch (const SpecError& e) {
      return usage_error(e.what());
    }
  }
  return run(o, std::cout, std::cerr);
}

}  // namespace vmxsim::sweep
