#!/usr/bin/python3
"""The page-table freeing study's tables and plot (docs/studies/pt-freeing.md).

Reads DIR/pt_free_8, DIR/pt_free_64 and DIR/pt_free_gp (the sweeps of
configs/studies/pt_free/, run them first, see the doc) and prints Markdown
tables:
  1. the sources' claims (FACTS H1, H4), each as a direction the model must
     show, with the model's figures;
  2. every point of the 8- and 64-vCPU sweeps;
  3. the grace-period-latency sweep.
With --plot PNG it also draws memory held, zap throughput, the freer's stall
and guest progress against the reader's preemption length (needs
python3-matplotlib). Times are cycles at cpu.freq_ghz 2.5.

usage: scripts/pt_free_study.py DIR [--plot PNG]
"""
import csv
import os
import sys

FREQ = 2.5e9  # cpu.freq_ghz default
POLICIES = ["call_rcu", "call_rcu_bounded", "synchronize", "ipi_wait"]
PREEMPT = "hv.dirty_log.lockless_preempt_cycles"
PERIOD = "vmm.zap_storm.period_cycles"


def rows(d, name):
    path = os.path.join(d, name, "results.csv")
    if not os.path.exists(path):
        sys.exit(f"{path}: missing; run the sweep first (docs/studies/pt-freeing.md)")
    return [r for r in csv.DictReader(open(path, newline="")) if r["status"] == "ok"]


def m(r):
    """The metrics of one point."""
    c = float(r["sim.cycles"])
    commits = max(1.0, float(r["hv.pt_free.commits"]))
    gps = float(r["hv.rcu.grace_period_cycles.count"])
    return {
        "held": float(r["hv.rcu.pending_page_cycles"]) / c,
        "peak": int(r["hv.rcu.max_pending_pages"]),
        "gp_us": (float(r["hv.rcu.grace_period_cycles.sum"]) / gps / FREQ * 1e6) if gps else 0.0,
        "stall_us": float(r["hv.pt_free.stall_cycles"]) / commits / FREQ * 1e6,
        "zaps": float(r["vmm.zap_storm.zaps_per_mcycle"]),
        "progress": float(r["sim.accesses_per_simulated_second_while_logging"]) / 1e6,
        "bound": int(r.get("hv.pt_free.bound_stalls") or 0),
        "uaf": int(r["check.pt_free_violations"]),
    }


def pick(rs, policy, **keys):
    for r in rs:
        if r["hv.pt_free.policy"] == policy and all(r[k] == str(v) for k, v in keys.items()):
            return m(r)
    sys.exit(f"no point {policy} {keys}")


def direction(a, b):
    return "up" if b > a * 1.05 + 1e-9 else "down" if b < a / 1.05 - 1e-9 else "flat"


def us(cycles):
    return f"{float(cycles) / FREQ * 1e6:g} µs"


def claims(rs, vcpus):
    fast = {PERIOD: 25000}
    lo, hi = {PREEMPT: 0, **fast}, {PREEMPT: 2500000, **fast}
    out = []
    a, b = pick(rs, "call_rcu", **lo), pick(rs, "call_rcu", **hi)
    out.append(("call_rcu: memory held grows with the grace period (Tosatti 2013; checklist)", "up",
                direction(a["held"], b["held"]),
                f"mean held {a['held']:.2f} → {b['held']:.2f} pages, peak {a['peak']} → {b['peak']}, "
                f"mean grace period {a['gp_us']:.2f} → {b['gp_us']:.0f} µs"))
    for p in ("synchronize", "ipi_wait"):
        a, b = pick(rs, p, **lo), pick(rs, p, **hi)
        out.append((f"{p}: the updater slows down instead (the stress case)", "down", direction(a["zaps"], b["zaps"]),
                    f"zaps per Mcycle {a['zaps']:.1f} → {b['zaps']:.1f}, stall per commit "
                    f"{a['stall_us']:.2f} → {b['stall_us']:.1f} µs, peak held {b['peak']}"))
    a, b = pick(rs, "call_rcu", **hi), pick(rs, "call_rcu_bounded", **hi)
    out.append(("call_rcu_bounded caps memory at a stall cost (checklist item 8)", "down",
                direction(a["peak"], b["peak"]),
                f"peak {a['peak']} → {b['peak']} pages (bound 16), {b['bound']} bound stalls, "
                f"stall per commit {b['stall_us']:.2f} µs"))
    print(f"\n**{vcpus} vCPUs** (fast zap rate, reader preemption 0 → 1 ms)\n")
    print("| claim | expected | model | figures |")
    print("|---|---|---|---|")
    for c, e, d, f in out:
        print(f"| {c} | {e} | {d}{'' if d == e else ' (differs)'} | {f} |")


def full(rs, vcpus):
    print(f"\n**{vcpus} vCPUs, every point**\n")
    print("| policy | reader preempted for | zap every | mean held (pages) | peak | mean GP | stall/commit "
          "| zaps/Mcycle | guest M accesses/s | UAF |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rs:
        x = m(r)
        print(f"| {r['hv.pt_free.policy']} | {us(r[PREEMPT])} | {us(r[PERIOD])} | {x['held']:.2f} | {x['peak']} "
              f"| {x['gp_us']:.1f} µs | {x['stall_us']:.2f} µs | {x['zaps']:.1f} | {x['progress']:.2f} | {x['uaf']} |")


def gp_table(rs):
    print("\n**Grace-period latency** (8 vCPUs, zap every 10 µs, preemption 100 µs at 2%)\n")
    print("| policy | hv.rcu.gp_cycles | mean held | peak | stall/commit | zaps/Mcycle | guest M accesses/s |")
    print("|---|---|---|---|---|---|---|")
    for r in rs:
        x = m(r)
        print(f"| {r['hv.pt_free.policy']} | {us(r['hv.rcu.gp_cycles'])} | {x['held']:.2f} | {x['peak']} "
              f"| {x['stall_us']:.1f} µs | {x['zaps']:.1f} | {x['progress']:.2f} |")


def plot(sets, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [("held", "mean pages pending free"), ("zaps", "zaps per Mcycle (throughput)"),
              ("stall_us", "freer stall per commit (µs)"), ("progress", "guest M accesses/s while logging")]
    for ax, (key, title) in zip(axes.flat, panels):
        for vcpus, rs, style in sets:
            for p in POLICIES:
                pts = sorted((int(r[PREEMPT]), m(r)[key]) for r in rs
                             if r["hv.pt_free.policy"] == p and r[PERIOD] == "25000")
                xs = [max(x, 2500) / FREQ * 1e6 for x, _ in pts]
                ax.plot(xs, [y for _, y in pts], style, marker="o", label=f"{p}, {vcpus} vCPUs")
        ax.set_xscale("log")
        if key == "progress":
            ax.set_yscale("log")
        ax.set_xlabel("reader descheduled for (µs; 0 drawn at 1 µs)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Page-table freeing: zap every 10 µs, 2% of lockless CLEAR sections descheduled")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    d = args[0]
    r8, r64, gp = rows(d, "pt_free_8"), rows(d, "pt_free_64"), rows(d, "pt_free_gp")
    claims(r8, 8)
    claims(r64, 64)
    full(r8, 8)
    full(r64, 64)
    gp_table(gp)
    if "--plot" in args:
        plot([(8, r8, "-"), (64, r64, "--")], args[args.index("--plot") + 1])


if __name__ == "__main__":
    main()
