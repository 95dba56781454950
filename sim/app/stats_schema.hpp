// What `vmxsim stats list` prints: the stats a simulation would emit, one row
// per emitted key pattern. Names with a vCPU index collapse to `vcpu<N>.<rest>`
// (one row for every vCPU), and a histogram becomes its emitted keys
// `<name>.count`, `.sum`, `.max` and `.<bucket>`, each with its description.
#pragma once
#include <string>
#include <vector>

#include "sim/stats.hpp"

namespace vmxsim::sim {

struct StatRow {
  std::string name, kind, unit, description;
  /// Still the transitional placeholder: registered without a unit or description.
  bool undescribed() const { return unit == "?" || description == "?"; }
};

/// `vcpu12.tlb.l1.hits` -> `vcpu<N>.tlb.l1.hits` (any dotted component vcpu<digits>).
std::string collapse_vcpu_index(const std::string& name);

/// Rows for `schema`, collapsed, deduplicated (the first wins) and sorted by name.
std::vector<StatRow> stat_rows(const std::vector<Stats::Info>& schema);

std::string rows_text(const std::vector<StatRow>& rows);      // aligned columns with a header
std::string rows_markdown(const std::vector<StatRow>& rows);  // a table, `|` escaped
std::string rows_json(const std::vector<StatRow>& rows);      // an array of objects

}  // namespace vmxsim::sim
