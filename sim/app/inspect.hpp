// The JSON of each part of the simulated state, for `vmxsim run --dump`
// (docs/inspect.md has every field). Each function reads its part through
// the models' read-only visitors (ept::for_each_ept_entry,
// ept::for_each_guest_entry, models::Tlb::for_each_valid,
// pml::Engine::for_each_logged, hv::DirtyLog::for_each_bitmap) and changes
// nothing. Addresses and raw entries are hex strings, counts are numbers.
#pragma once
#include <nlohmann/json.hpp>

#include "cpu/guest_os.hpp"
#include "cpu/vcpu.hpp"
#include "ept/entry.hpp"
#include "hv/check/dirty_oracle.hpp"
#include "hv/dirty_log.hpp"
#include "hv/memslots.hpp"
#include "models/phys_mem.hpp"
#include "models/tlb.hpp"
#include "pml/engine.hpp"

namespace vmxsim::inspect {

using json = nlohmann::ordered_json;

/// Every present entry of the EPT `eptp` points to, with the EPTP's fields.
json ept(const models::PhysMem& mem, const ept::Eptp& eptp);
/// The guest's address spaces (one CR3 today) and every present entry of
/// their page tables; guest-physical tables are found through `slots`.
json guest(const models::PhysMem& mem, const cpu::GuestOs& os, const hv::Memslots& slots);
/// One TLB level: its arrays and their valid entries.
json tlb(const models::Tlb& t);
/// One vCPU's PML state; null without an engine (not hv.dirty_log.mode pml).
json pml(const pml::Engine* e);
/// One memslot: adding a field to hv::Memslot is one line here.
json memslot(const hv::Memslot& s);
/// The memslots: `{"slots": [...]}`, every slot in GPA order.
json memslots(const hv::Memslots& slots);
/// The dirty-log state and every memslot's bitmap.
json dirty_log(const hv::DirtyLog& log);
/// One vCPU's private state: TLBs and PML, at its time `cycle`.
json vcpu(const cpu::Vcpu& v, Cycles cycle);
/// The `check.dirty_log_gets` file: every GET the oracle recorded.
json dirty_gets(const std::vector<hv::DirtyOracle::Get>& gets);

}  // namespace vmxsim::inspect
