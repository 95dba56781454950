#!/usr/bin/python3
"""The eager-splitting study's tables and plot (docs/studies/eager-split.md).

Reads the results.csv of the sweeps in configs/studies/eager_split/ (run them
first, see the doc) from DIR/eager_split_{table,scale,stall}/results.csv and
prints Markdown tables:
  1. Matlack's five published rows (96 vCPUs x 1 GiB on 1 GiB HugeTLB,
     eager splitting off = "before", on = "after"): published, model, ratio;
  2. the scale sweep (24, 48, 96 vCPUs): each phase per vCPU count;
  3. the CLEAR-stall sweep (nowait vs drop_lock, slow vs fast fault path).
With --plot PNG it also draws each iteration's dirty time, eager splitting
off and on, without and with INITIALLY_SET (needs python3-matplotlib).
Times are cycles at cpu.freq_ghz 2.5.

usage: scripts/eager_split_study.py DIR [--plot PNG]
"""
import csv
import os
import sys

FREQ = 2.5e9  # cpu.freq_ghz default
# Matlack, "KVM: x86/mmu: Eager Page Splitting for the TDP MMU", cover of v1
# (lore 20220119230739.2234394-1-dmatlack@google.com): (row, initially_set,
# stat, before, after) in seconds.
PUBLISHED = [
    ("Enabling dirty logging", "false", "dlpt.enable", 0.00168, 1.547),
    ("Iteration 1 dirty memory time", "false", "dlpt.iter.1.dirty", 2.944, 0.146),
    ("INITIALLY_SET: iteration 1 CLEAR", "true", "dlpt.iter.1.clear", 0.0496, 1.668),
    ("INITIALLY_SET: iteration 2 dirty memory time", "true", "dlpt.iter.2.dirty", 2.751, 0.127),
    ("INITIALLY_SET: iteration 3 CLEAR", "true", "dlpt.iter.3.clear", 1.3745, 1.4225),
]


def rows(d, name):
    path = os.path.join(d, name, "results.csv")
    if not os.path.exists(path):
        sys.exit(f"{path}: missing; run the sweep first (docs/studies/eager-split.md)")
    return [r for r in csv.DictReader(open(path, newline="")) if r["status"] == "ok"]


def sec(r, stat):
    return float(r[stat]) / FREQ


def fmt(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def direction(a, b):
    return "up" if b > a * 1.01 else "down" if b < a / 1.01 else "flat"


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    d, plot = args[0], None
    if "--plot" in args:
        plot = args[args.index("--plot") + 1]
    table = rows(d, "eager_split_table")
    by = {(r["hv.dirty_log.initially_set"], r["hv.eager_split.enabled"]): r for r in table}
    print("| row | published before | model before | ratio | published after | model after | ratio "
          "| published direction | model direction |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, iset, stat, before, after in PUBLISHED:
        mb, ma = sec(by[(iset, "false")], stat), sec(by[(iset, "true")], stat)
        print(f"| {label} | {fmt(before)} | {fmt(mb)} | {mb / before:.2f} | {fmt(after)} | {fmt(ma)} "
              f"| {ma / after:.2f} | {direction(before, after)} | {direction(mb, ma)} |")
    print()
    print("| vCPUs | eager | enable | iteration 1 dirty | iteration 1 CLEAR | iteration 2 dirty | host s |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows(d, "eager_split_scale"), key=lambda r: (int(r["cpu.vcpus"]), r["hv.eager_split.enabled"])):
        print(f"| {r['cpu.vcpus']} | {r['hv.eager_split.enabled']} | {fmt(sec(r, 'dlpt.enable'))} "
              f"| {fmt(sec(r, 'dlpt.iter.1.dirty'))} | {fmt(sec(r, 'dlpt.iter.1.clear'))} "
              f"| {fmt(sec(r, 'dlpt.iter.2.dirty'))} | {float(r['sim.host_seconds']):.0f} |")
    print()
    stall = os.path.join(d, "eager_split_stall", "results.csv")
    if os.path.exists(stall):
        print("| fault path | alloc | first collection (GET + CLEAR) | vCPUs' mmu_lock wait, all | "
              "accesses per simulated second while logging | run length | lock drops | host s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows(d, "eager_split_stall"):
            print(f"| {r['hv.fault_path']} | {r['hv.eager_split.alloc']} | {fmt(sec(r, 'vmm.round.1.cycles'))} "
                  f"| {fmt(sec(r, 'hv.lock.mmu_lock.wait_cycles'))} "
                  f"| {float(r['sim.accesses_per_simulated_second_while_logging']) / 1e6:.1f} M "
                  f"| {fmt(sec(r, 'sim.cycles'))} | {r['hv.eager_split.lock_drops']} "
                  f"| {float(r['sim.host_seconds']):.0f} |")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        its = sorted({int(k.split(".")[2]) for k in table[0] if k.startswith("dlpt.iter.") and k.endswith(".dirty")})
        width = 0.2
        for i, (key, label) in enumerate([(("false", "false"), "eager off"), (("false", "true"), "eager on"),
                                          (("true", "false"), "INITIALLY_SET, eager off"),
                                          (("true", "true"), "INITIALLY_SET, eager on")]):
            r = by[key]
            ax.bar([n + (i - 1.5) * width for n in its], [sec(r, f"dlpt.iter.{n}.dirty") for n in its], width,
                   label=label)
        ax.set_yscale("log")
        ax.set_xticks(its)
        ax.set_xlabel("iteration")
        ax.set_ylabel("dirty memory time (simulated s)")
        ax.set_title("dirty_log_perf_test in vmxsim, 96 vCPUs x 1 GiB on 1 GiB pages")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot, dpi=110)


if __name__ == "__main__":
    main()
