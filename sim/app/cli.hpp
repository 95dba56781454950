// What the vmxsim subcommands share: usage errors (exit 2), option parsing,
// and loading a config with --set overrides into sim::SimParams.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "sim/app/simulation.hpp"
#include "sim/config.hpp"

namespace vmxsim::cli {

namespace po = boost::program_options;

/// A usage error: exit 2, with the command's usage if given (else a pointer to --help).
struct UsageError : std::runtime_error {
  explicit UsageError(const std::string& what, std::string usage_text = "")
      : std::runtime_error(what), usage(std::move(usage_text)) {}
  std::string usage;
};

/// Boost's default command-line style without allow_guessing: an
/// abbreviation (`--stat` for `--stats`) is an unknown option, not silently
/// taken for the one it starts, so a typo never runs with a different meaning.
constexpr int kOptionStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

/// `--help` and repeatable `--set key.path=value`.
po::options_description config_options();
/// Parses `args` (after the command words) with `desc` and one positional CONFIG.
po::variables_map parse(const std::vector<std::string>& args, po::options_description desc);
/// The --set values given.
std::vector<std::string> sets_of(const po::variables_map& vm);
/// One override of a config key and how errors about its value name it.
struct Override {
  std::string assignment;  // key.path=value, as --set takes it
  std::string label;       // "--set cpu.vcpus=600", "sweep point 3 (grid cpu.vcpus=600)"
};

/// Loads the config at `path`, applies the `overrides` in order, reads every
/// component's params; `effective` (if given) receives the effective config.
/// An error about an overridden value names the override's label, not the
/// file. Throws UsageError for a malformed assignment (before reading `path`).
sim::SimParams load(const std::string& path, const std::vector<Override>& overrides, json* effective);
/// The same, for --set assignments (each labelled "--set ASSIGNMENT").
sim::SimParams load(const std::string& path, const std::vector<std::string>& sets, json* effective);
/// CONFIG and --set from the command line.
sim::SimParams load(const po::variables_map& vm, json* effective);

}  // namespace vmxsim::cli
