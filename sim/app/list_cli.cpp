#include "sim/app/list_cli.hpp"

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sim/app/cli.hpp"
#include "sim/registry.hpp"

namespace vmxsim::cli {

namespace {

const char* kListUsage =
    "usage: vmxsim list [--json]\n\n"
    "Print every registry: the key that chooses among its variants and what they\n"
    "are, then each variant's name and one-line description, all sorted. Trace\n"
    "formats are chosen by a trace file's name rather than by a config key.\n\n";

void print_text(const std::vector<const RegistryBase*>& registries) {
  bool first = true;
  for (const RegistryBase* r : registries) {
    if (!first) std::cout << "\n";
    first = false;
    std::cout << r->key() << "  " << r->title() << "\n";
    const auto variants = r->variants();
    std::size_t width = 0;
    for (const auto& v : variants) width = std::max(width, v.name.size());
    for (const auto& v : variants)
      std::cout << "  " << v.name << std::string(width - v.name.size() + 2, ' ') << v.description << "\n";
  }
}

void print_json(const std::vector<const RegistryBase*>& registries) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const RegistryBase* r : registries) {
    nlohmann::ordered_json variants = nlohmann::ordered_json::array();
    for (const auto& v : r->variants()) variants.push_back({{"name", v.name}, {"description", v.description}});
    out.push_back({{"key", r->key()}, {"title", r->title()}, {"variants", std::move(variants)}});
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

int list_command(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("json", "print one JSON array instead");
  po::variables_map vm;
  try {
    const po::parsed_options parsed = po::command_line_parser(args).options(desc).style(cli::kOptionStyle).run();
    // Boost keeps positional words aside rather than failing on them; `list` takes none.
    for (const auto& o : parsed.options)
      if (o.position_key >= 0) throw UsageError("unexpected argument '" + o.value.front() + "'", kListUsage);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what(), kListUsage);
  }
  if (vm.count("help")) {
    std::cout << kListUsage << desc;
    return 0;
  }
  const RegistryIndex& index = RegistryIndex::instance();
  index.check();  // a variant registered twice is an error, not a listing
  if (vm.count("json")) print_json(index.all());
  else print_text(index.all());
  return 0;
}

}  // namespace vmxsim::cli
