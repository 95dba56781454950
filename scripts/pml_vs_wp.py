#!/usr/bin/env python3
"""PML vs write-protection dirty logging: the study of docs/studies/pml-vs-wp.md.

Runs configs/studies/pml_vs_wp_{global,vram}.json in both modes (wp, pml) at
three GET+CLEAR periods, two runs at a time, and prints a markdown table of
guest progress while logging (accesses retired per simulated second) and the
PML/WP ratio. Standard library only. `vmxsim sweep configs/studies/sweep_pml_vs_wp.json`
runs the global case as one sweep (more periods, with repeats): docs/studies/pml-vs-wp-sweep.md.

usage: scripts/pml_vs_wp.py [--bin build/vmxsim] [--out build/studies/pml_vs_wp] [--set key=value]...
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {"global log-dirty": "pml_vs_wp_global.json", "VRAM tracking (16 MiB)": "pml_vs_wp_vram.json"}
PERIODS = {"1 ms": 2_500_000, "5 ms": 12_500_000, "20 ms": 50_000_000}  # at 2.5 GHz
MODES = ["wp", "pml"]
KEYS = ["sim.accesses_per_simulated_second_while_logging", "vmm.rounds", "vmm.pages_reported",
        "hv.wp_faults", "hv.pml.drained", "check.dirty_lost"]


def run(binary, out, case, cfg, period, mode, extra):
    stats = os.path.join(out, f"{cfg[:-5]}_{mode}_{period}.json")
    cmd = [binary, "run", os.path.join(ROOT, "configs", "studies", cfg), "--quiet", "--stats", stats,
           "--set", f"hv.dirty_log.mode={mode}", "--set", f"vmm.dirty_log.period_cycles={period}",
           "--set", "check.dirty_log=true", "--fail-on-violation"]
    for kv in extra:
        cmd += ["--set", kv]
    subprocess.run(cmd, check=True)
    with open(stats) as f:
        s = json.load(f)
    exits = {r: sum(v for k, v in s.items() if k.endswith(f".exits.{r}")) for r in
             ("ept_violation", "pml_full", "external_interrupt")}
    logging = sum(v for k, v in s.items() if k.endswith(".cycles.dirty_logging"))
    return {k: s[k] for k in KEYS} | {f"exits.{r}": n for r, n in exits.items()} | {"cycles.dirty_logging": logging}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "vmxsim"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "studies", "pml_vs_wp"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra override for every point (repeatable)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    points = [(c, cfg, pn, p, m) for c, cfg in CASES.items() for pn, p in PERIODS.items() for m in MODES]
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        futs = {pt: ex.submit(run, a.bin, a.out, pt[0], pt[1], pt[3], pt[4], a.set) for pt in points}
        res = {pt: f.result() for pt, f in futs.items()}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({f"{c}|{pn}|{m}": r for (c, _, pn, _, m), r in res.items()}, f, indent=2)
    print("| case | GET period | WP progress (M acc/s) | PML progress (M acc/s) | PML/WP | rounds | pages reported (WP / PML) | WP faults (WP) | PML-full exits (PML) | exits for logging, cycles (WP / PML) | lost |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, cfg in CASES.items():
        for pn in PERIODS:
            w = res[(c, cfg, pn, PERIODS[pn], "wp")]
            p = res[(c, cfg, pn, PERIODS[pn], "pml")]
            wp_prog = w["sim.accesses_per_simulated_second_while_logging"] / 1e6
            pml_prog = p["sim.accesses_per_simulated_second_while_logging"] / 1e6
            print(f"| {c} | {pn} | {wp_prog:.2f} | {pml_prog:.2f} | {100 * (pml_prog / wp_prog - 1):+.2f}% | "
                  f"{w['vmm.rounds']} / {p['vmm.rounds']} | {w['vmm.pages_reported']} / {p['vmm.pages_reported']} | "
                  f"{w['hv.wp_faults']} | {p['exits.pml_full']} | "
                  f"{w['cycles.dirty_logging'] / 1e6:.1f}M / {p['cycles.dirty_logging'] / 1e6:.1f}M | "
                  f"{w['check.dirty_lost'] + p['check.dirty_lost']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
