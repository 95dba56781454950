#!/usr/bin/python3
"""The nested eager-splitting study's table and plot
(docs/studies/nested-eager-split.md).

Reads DIR/nested_table{2,64}/results.csv and DIR/nested_clear{2,64}/results.csv
(the sweeps in configs/studies/nested_eager_split/; run them first, see the
doc) and prints Markdown: Matlack's nested rows (dirty_log_perf_test -n,
1 GiB per vCPU, eager splitting off = N, on = Y) beside the model's, with
the ratio model / published and the direction N -> Y of each. With
--plot PNG it also draws the iteration-1 dirty time per write fraction, N
and Y, published and model (needs python3-matplotlib). Times are cycles at
cpu.freq_ghz 2.5.

usage: scripts/nested_study.py DIR [--plot PNG]
"""
import csv
import os
import sys

FREQ = 2.5e9
# Matlack, "KVM: Extend Eager Page Splitting to the shadow MMU", v4 and v6
# covers (lore 20220422210546.458943-1-dmatlack@google.com,
# 20220516232138.1783324-1-dmatlack@google.com), nested (-n) tables:
# (row, sweep, write fraction, stat, vCPUs, N, Y) in seconds.
PUBLISHED = [
    ("Iteration 1 dirty, 100% writes", "table", "1.0", "dlpt.iter.1.dirty", 2, 0.367, 0.360),
    ("Iteration 1 dirty, 50% writes", "table", "0.5", "dlpt.iter.1.dirty", 2, 0.374, 0.190),
    ("Iteration 1 dirty, 5% writes", "table", "0.05", "dlpt.iter.1.dirty", 2, 0.386, 0.0233),
    ("Enabling dirty logging (100%)", "table", "1.0", "dlpt.enable", 2, 0.00133, 0.0186),
    ("INITIALLY_SET: iteration 1 CLEAR", "clear", None, "dlpt.iter.1.clear", 2, 0.00195, 0.0198),
    ("INITIALLY_SET: iteration 2 CLEAR", "clear", None, "dlpt.iter.2.clear", 2, 0.00959, 0.00993),
    ("Iteration 1 dirty, 100% writes", "table", "1.0", "dlpt.iter.1.dirty", 64, 20.438, 17.890),
    ("Iteration 1 dirty, 50% writes", "table", "0.5", "dlpt.iter.1.dirty", 64, 20.078, 8.825),
    ("Iteration 1 dirty, 5% writes", "table", "0.05", "dlpt.iter.1.dirty", 64, 19.861, 0.906),
    ("Enabling dirty logging (100%)", "table", "1.0", "dlpt.enable", 64, 0.0855, 0.854),
    ("INITIALLY_SET: iteration 1 CLEAR", "clear", None, "dlpt.iter.1.clear", 64, 0.109, 0.892),
    ("INITIALLY_SET: iteration 2 CLEAR", "clear", None, "dlpt.iter.2.clear", 64, 0.419, 0.337),
]


def rows(d, name):
    path = os.path.join(d, name, "results.csv")
    if not os.path.exists(path):
        return None
    return [r for r in csv.DictReader(open(path, newline="")) if r["status"] == "ok"]


def fmt(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def direction(a, b):
    """N -> Y as a signed percentage and a word (within 5%: flat)."""
    word = "up" if b > a * 1.05 else "down" if b < a / 1.05 else "flat"
    return f"{word} ({(b / a - 1) * 100:+.1f}%)"


def pick(rs, fraction, eager):
    for r in rs:
        if r["hv.eager_split.enabled"] != eager:
            continue
        if fraction is not None and abs(float(r["vmm.dlpt.write_fraction"]) - float(fraction)) > 1e-9:
            continue
        return r
    return None


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    d = args[0]
    plot = args[args.index("--plot") + 1] if "--plot" in args else None
    print("| vCPUs | row | published N | model N | ratio | published Y | model Y | ratio | published N→Y | model N→Y |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    found = {}
    for row, sweep, frac, stat, vcpus, pn, py in PUBLISHED:
        rs = rows(d, f"nested_{sweep}{vcpus}")
        if rs is None:
            print(f"| {vcpus} | {row} | {fmt(pn)} | (not run) | | {fmt(py)} | (not run) | | | |")
            continue
        n, y = pick(rs, frac, "false"), pick(rs, frac, "true")
        if n is None or y is None:
            print(f"| {vcpus} | {row} | {fmt(pn)} | (missing) | | {fmt(py)} | (missing) | | | |")
            continue
        mn, my = float(n[stat]) / FREQ, float(y[stat]) / FREQ
        found[(vcpus, row)] = (pn, py, mn, my)
        print(
            f"| {vcpus} | {row} | {fmt(pn)} | {fmt(mn)} | {mn / pn:.2f} | {fmt(py)} | {fmt(my)} | {my / py:.2f} "
            f"| {direction(pn, py)} | {direction(mn, my)} |"
        )
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, vcpus in zip(axes, (2, 64)):
            labels, pub_n, pub_y, mod_n, mod_y = [], [], [], [], []
            for w in ("100%", "50%", "5%"):
                key = (vcpus, f"Iteration 1 dirty, {w} writes")
                if key not in found:
                    continue
                pn, py, mn, my = found[key]
                labels.append(w)
                pub_n.append(pn)
                pub_y.append(py)
                mod_n.append(mn)
                mod_y.append(my)
            x = range(len(labels))
            wdt = 0.2
            ax.bar([i - 1.5 * wdt for i in x], pub_n, wdt, label="published, eager off")
            ax.bar([i - 0.5 * wdt for i in x], mod_n, wdt, label="model, eager off")
            ax.bar([i + 0.5 * wdt for i in x], pub_y, wdt, label="published, eager on")
            ax.bar([i + 1.5 * wdt for i in x], mod_y, wdt, label="model, eager on")
            ax.set_xticks(list(x))
            ax.set_xticklabels([f"{lab} writes" for lab in labels])
            ax.set_yscale("log")
            ax.set_ylabel("iteration 1 dirty memory time (s)")
            ax.set_title(f"dirty_log_perf_test -n, {vcpus} vCPUs x 1 GiB")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        fig.savefig(plot, dpi=110)


if __name__ == "__main__":
    main()
