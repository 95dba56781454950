#!/usr/bin/python3
"""Tables of the fast-page-fault study (docs/studies/fast-page-fault.md).

Reads the results.csv of configs/studies/fast_pf_sweep.json (or
fast_pf_stress_sweep.json) and prints one Markdown row per configuration,
the mean over repeats:
  cycles per dirty-logging write fault = sum of vcpu*.cycles.dirty_logging
      / (hv.wp_faults + hv.fault.fast_fixed)
  (the numerator also holds the external-interrupt exits of CLEAR's TLB
  flushes, one per vCPU per round: a few percent of it at a 1 ms period),
  mmu_lock contended acquisitions and wait cycles, guest progress while
  logging, the fast path's counters, and lost pages; fast/slow is a fast
  row's progress against the slow row with the same other parameters.
Standard library only.

usage: scripts/fast_pf_table.py RESULTS.csv
"""
import csv
import statistics
import sys
from collections import OrderedDict

PARAMS = ["vmm.dirty_log.period_cycles", "hv.costs.gfn_to_pfn", "hv.mmu_lock", "hv.fault_path"]


def num(row, pattern):
    return float(row[pattern]) if row.get(pattern, "") != "" else 0.0


def glob_sum(row, prefix, suffix):
    return sum(float(v) for k, v in row.items() if k.startswith(prefix) and k.endswith(suffix) and v != "")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = [r for r in csv.DictReader(open(sys.argv[1], newline="")) if r["status"] == "ok"]
    params = [p for p in PARAMS if p in rows[0]]
    groups = OrderedDict()
    order = {"slow": "0", "fast": "1"}  # slow before fast
    for r in sorted(rows, key=lambda r: tuple(
            (float(r[p]) if r[p].replace(".", "").isdigit() else order.get(r[p], r[p])) for p in params)):
        groups.setdefault(tuple(r[p] for p in params), []).append(r)
    head = [p.split(".")[-1] for p in params] + [
        "progress (M acc/s)", "± (sd)", "fast/slow", "cycles / write fault", "write faults", "lock acquisitions",
        "contended", "wait cycles", "wait / fault", "fast fixed / retries / spurious / to slow", "lost", "rounds"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, rs in groups.items():
        prog = [num(r, "sim.accesses_per_simulated_second_while_logging") / 1e6 for r in rs]
        faults = [num(r, "hv.wp_faults") + num(r, "hv.fault.fast_fixed") for r in rs]
        cyc = [glob_sum(r, "vcpu", ".cycles.dirty_logging") for r in rs]
        m = statistics.mean
        cells = list(key)
        gain = ""
        if "hv.fault_path" in params and key[params.index("hv.fault_path")] == "fast":
            slow_key = tuple("slow" if p == "hv.fault_path" else v for p, v in zip(params, key))
            if slow_key in groups:
                slow = m(num(r, "sim.accesses_per_simulated_second_while_logging") / 1e6 for r in groups[slow_key])
                gain = "**%+.2f%%**" % (100 * (m(prog) / slow - 1))
        cells += ["%.3f" % m(prog), "%.3f" % (statistics.stdev(prog) if len(prog) > 1 else 0), gain,
                  "%.0f" % (sum(cyc) / sum(faults)), "{:,.0f}".format(m(faults)),
                  "{:,.0f}".format(m(num(r, "hv.lock.mmu_lock.acquisitions") for r in rs)),
                  "{:,.0f}".format(m(num(r, "hv.lock.mmu_lock.contended") for r in rs)),
                  "{:,.0f}".format(m(num(r, "hv.lock.mmu_lock.wait_cycles") for r in rs)),
                  "%.1f" % (sum(num(r, "hv.lock.mmu_lock.wait_cycles") for r in rs) / sum(faults)),
                  " / ".join("{:,.0f}".format(m(num(r, "hv.fault." + k) for r in rs))
                             for k in ("fast_fixed", "fast_retries", "fast_spurious", "fast_to_slow")),
                  "%d" % max(num(r, "check.dirty_lost") for r in rs),
                  "%.0f" % m(num(r, "vmm.rounds") for r in rs)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
