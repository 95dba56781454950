#!/usr/bin/python3
"""The memslot study's table and plot (docs/studies/memslots.md).

Reads the results.csv of the five sweeps in configs/studies/memslots/
(run them first, see the doc) from DIR/memslots_<test>/results.csv and prints
one Markdown table: per test and slot count, the seed's figure before
(array) and after (tree) where it published one, the model's array and tree
figures, and their ratios (model / seed). A test's time is
vmm.memslot_perf.best_iteration_cycles (time per iteration), or
vmm.memslot_perf.setup_cycles for the slot setup, at cpu.freq_ghz 2.5.
With --plot PNG it also draws time per operation against slot count,
log-log, for both implementations (needs python3-matplotlib).

usage: scripts/memslots_study.py DIR [--plot PNG]
"""
import csv
import os
import sys

FREQ = 2.5e9  # cpu.freq_ghz default
TESTS = [  # (sweep name, row label, stat); "Map" is per page: the iteration / 8192
    ("map", "Map (per page)", "vmm.memslot_perf.best_iteration_cycles"),
    ("unmap", "Unmap", "vmm.memslot_perf.best_iteration_cycles"),
    ("unmap_chunked", "Unmap 2M", "vmm.memslot_perf.best_iteration_cycles"),
    ("move_active", "Move active", "vmm.memslot_perf.best_iteration_cycles"),
    ("move_inactive", "Move inactive", "vmm.memslot_perf.best_iteration_cycles"),
    ("rw", "RW", "vmm.memslot_perf.best_iteration_cycles"),
    ("setup", "Slot setup", "vmm.memslot_perf.setup_cycles"),
]
# The seed's published figures, seconds: "KVM: Scalable memslots
# implementation" (v4), memslot_perf_test on a Xeon 8167M, (before, after).
SEED = {
    # Map: per page (fault + unmap), from the seed's per-iteration times
    # over 8192 pages (derived in docs/studies/memslots.md).
    ("Map (per page)", 509): (2.8e-6, 2.8e-6),
    ("Map (per page)", 8194): (24.4e-6, 6.6e-6),
    ("Unmap", 509): (72.4e-3, 31.5e-3),
    ("Unmap", 32764): (3.88, 35e-3),
    ("Unmap 2M", 509): (1.55e-3, 0.87e-3),
    ("Unmap 2M", 32764): (3.88, 34.8e-3),
    ("Move active", 509): (101e-6, 79e-6),
    ("Move active", 32764): (1.42e-3, 79e-6),
    ("Slot setup", 509): (13.5e-3, 8.0e-3),
    ("Slot setup", 32764): (16.1, 0.59),
}


def fmt(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def ratio(model, seed):
    return "—" if model is None or seed is None else f"{model / seed:.2f}"


def load(d, name, stat):
    path = os.path.join(d, f"memslots_{name}", "results.csv")
    out = {}
    if not os.path.exists(path):
        return out
    for r in csv.DictReader(open(path, newline="")):
        if r["status"] != "ok" or r.get(stat, "") == "":
            continue
        per = 8192 if name == "map" else 1
        out[(r["hv.memslots_impl"], int(r["vmm.memslot_perf.slots"]))] = float(r[stat]) / FREQ / per
    return out


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    d, plot = args[0], None
    if "--plot" in args:
        plot = args[args.index("--plot") + 1]
    print("| test | slots | seed array (before) | seed tree (after) | model array | model tree "
          "| array model/seed | tree model/seed | seed before/after | model array/tree |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    curves = {}
    for name, label, stat in TESTS:
        res = load(d, name, stat)
        for n in sorted({k[1] for k in res}):
            a, t = res.get(("array", n)), res.get(("tree", n))
            sa, st = SEED.get((label, n), (None, None))
            print(f"| {label} | {n} | {fmt(sa)} | {fmt(st)} | {fmt(a)} | {fmt(t)} | {ratio(a, sa)} | {ratio(t, st)} "
                  f"| {ratio(sa, st) if sa else '—'} | {ratio(a, t)} |")
            curves.setdefault(label, {}).setdefault("array", []).append((n, a))
            curves[label].setdefault("tree", []).append((n, t))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5.5))
        for label, impls in curves.items():
            for impl, pts in impls.items():
                pts = [(n, v) for n, v in pts if v]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if impl == "tree" else "s",
                            linestyle="-" if impl == "tree" else "--", label=f"{label}, {impl}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("memslots (N)")
        ax.set_ylabel("simulated time per iteration (s)")
        ax.set_title("memslot_perf_test in vmxsim: array (KVM 5.7-5.16) vs tree (5.17+)")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot, dpi=110)


if __name__ == "__main__":
    main()
