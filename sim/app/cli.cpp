#include "sim/app/cli.hpp"

namespace vmxsim::cli {

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
    po::store(po::command_line_parser(args).options(desc).style(kOptionStyle).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

namespace {
std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}
}  // namespace

sim::SimParams load(const std::string& path, const std::vector<Override>& overrides, json* effective) {
  // A malformed assignment is the command line's fault, whatever the config
  // holds: say so (exit 2) before reading any file.
  for (const auto& o : overrides) {
    try {
      check_override_syntax(o.assignment);
    } catch (const OverrideSyntaxError& e) {
      throw UsageError(e.what());
    }
  }
  ConfigOrigins origins;
  json doc = load_config_file(path, &origins);  // CONFIG merged with the files it includes
  std::vector<std::string> keys;
  for (const auto& o : overrides) {
    try {
      apply_override(doc, o.assignment);
    } catch (const ConfigError& e) {
      // "'cpu.vcpus' is not an object": the override and the config disagree.
      const std::string what = e.what(), own = "--set " + o.assignment + ": ";
      throw ConfigError(o.label + ": " + (what.compare(0, own.size(), own) ? what : what.substr(own.size())));
    }
    keys.push_back(o.assignment.substr(0, o.assignment.find('=')));
    origins.assign_override(keys.back(), o.label);  // not from a file: errors name the override
  }
  // A relative workload.trace resolves against the folder of the file that
  // set it (an included file's, when it came from one).
  const std::string trace_file = origins.of("workload.trace");
  ConfigTracker tracker(std::move(doc), path);
  tracker.set_origins(std::move(origins));
  sim::SimParams p = sim::SimParams::read(tracker, dir_of(trace_file.empty() ? path : trace_file), keys);
  if (effective) *effective = tracker.effective();
  return p;
}

sim::SimParams load(const std::string& path, const std::vector<std::string>& sets, json* effective) {
  std::vector<Override> overrides;
  for (const auto& s : sets) overrides.push_back({s, "--set " + s});
  return load(path, overrides, effective);
}

std::vector<std::string> sets_of(const po::variables_map& vm) {
  return vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// CONFIG and --set from the command line.
sim::SimParams load(const po::variables_map& vm, json* effective) {
  if (!vm.count("config")) throw UsageError("missing CONFIG argument");
  return load(vm["config"].as<std::string>(), sets_of(vm), effective);
}

}  // namespace vmxsim::cli
