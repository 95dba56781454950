#!/usr/bin/python3
"""Plot one stat of a `vmxsim sweep` against one of its parameters.

Reads the sweep's results.csv and draws the mean of STAT over the repeats of
each point against PARAM (STAT may be a glob pattern such as
'vcpu*.exits.pml_full': the matching columns are summed per point) (a line chart, or bars), with error bars, one line
per value of --series. Writes a PNG. Every other parameter the sweep varies
must be fixed with --where (or be the series), so that no point is averaged
with a different configuration. Failed points are left out, with a warning.

Needs matplotlib: Debian's python3-matplotlib, hence /usr/bin/python3 (see
docs/sweep.md).

usage: scripts/plot_sweep.py RESULTS.csv --x PARAM --y STAT [--series PARAM] [--where PARAM=VALUE]...
                             [--kind line|bar] [--err sd|sem|none] [--x-scale F] [--y-scale F] [--logx] [--logy]
                             [--title T] [--xlabel L] [--ylabel L] [--out PNG]
"""
import argparse
import collections
import csv
import fnmatch
import math
import statistics
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
import matplotlib.ticker  # noqa: E402

# results.csv columns that are not parameters (docs/sweep.md); stats follow "error".
FIXED_COLUMNS = ["point", "id", "repeat"]
STATUS_COLUMNS = ["status", "exit_code", "error"]
DPI = 150
MAX_VALUE_TICKS = 12  # up to this many x values, each gets its own tick
FIGSIZE = (7, 4.5)


def fail(msg):
    print(f"plot_sweep: {msg}", file=sys.stderr)
    sys.exit(1)


def as_number(text):
    """A CSV cell as a number when it is one (parameters may be strings)."""
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def read(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
            header = rows[0].keys() if rows else []
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    header = list(header)
    if not all(c in header for c in FIXED_COLUMNS + STATUS_COLUMNS):
        fail(f"{path}: not a vmxsim sweep results.csv (expected columns {FIXED_COLUMNS + STATUS_COLUMNS})")
    params = header[len(FIXED_COLUMNS):header.index("status")]
    return rows, params, header


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="the sweep's results.csv")
    ap.add_argument("--x", required=True, metavar="PARAM", help="the parameter on the x axis")
    ap.add_argument("--y", required=True, metavar="STAT",
                    help="the stat on the y axis: a results.csv column, or a glob pattern whose columns are summed")
    ap.add_argument("--series", metavar="PARAM", help="one line (or bar group) per value of this parameter")
    ap.add_argument("--where", action="append", default=[], metavar="PARAM=VALUE",
                    help="keep only rows with this parameter value (repeatable)")
    ap.add_argument("--kind", choices=["line", "bar"], default="line")
    ap.add_argument("--err", choices=["sd", "sem", "none"], default="sd",
                    help="error bars over repeats: standard deviation (default), standard error of the mean, none")
    ap.add_argument("--x-scale", type=float, default=1.0, metavar="F", help="divide x values by F (e.g. 2.5e6: cycles to ms)")
    ap.add_argument("--y-scale", type=float, default=1.0, metavar="F", help="divide y values by F (e.g. 1e6)")
    ap.add_argument("--logx", action="store_true", help="logarithmic x axis (line charts)")
    ap.add_argument("--logy", action="store_true", help="logarithmic y axis")
    ap.add_argument("--title")
    ap.add_argument("--xlabel")
    ap.add_argument("--ylabel")
    ap.add_argument("--out", default="sweep.png", help="the PNG to write (default: sweep.png)")
    a = ap.parse_args()

    rows, params, header = read(a.csv)
    for name, what in ((a.x, "--x"), (a.series, "--series")):
        if name is not None and name not in params:
            fail(f"{what} {name}: not a parameter of this sweep (parameters: {', '.join(params)})")
    stat_columns = header[header.index("error") + 1:]
    y_columns = [c for c in stat_columns if fnmatch.fnmatchcase(c, a.y)]
    if not y_columns:
        fail(f"--y {a.y}: matches no stat column of {a.csv} (add it to the spec's \"stats\")")
    where = {}
    for w in a.where:
        key, sep, value = w.partition("=")
        if not sep or key not in params:
            fail(f"--where {w}: expected PARAM=VALUE with PARAM one of {', '.join(params)}")
        where[key] = value
    # A parameter that varies but is neither plotted nor fixed would mix configurations in one mean.
    for p in params:
        values = {r[p] for r in rows if all(r[k] == v for k, v in where.items())}
        if p not in (a.x, a.series) and p not in where and len(values) > 1:
            fail(f"parameter {p} also varies ({', '.join(sorted(values))}): fix it with --where {p}=VALUE "
                 f"or plot it with --series {p}")

    samples = collections.defaultdict(list)  # (series, x) -> y values over repeats
    failed = 0
    for r in rows:
        if any(r[k] != v for k, v in where.items()):
            continue
        if r["status"] != "ok" or any(r[c] == "" for c in y_columns):
            failed += 1
            continue
        y = sum(float(r[c]) for c in y_columns)
        samples[(r[a.series] if a.series else None, as_number(r[a.x]))].append(y / a.y_scale)
    if failed:
        print(f"plot_sweep: warning: {failed} row(s) left out (failed, or without {a.y})", file=sys.stderr)
    if not samples:
        fail("no row to plot")

    def spread(v):
        if a.err == "none" or len(v) < 2:
            return 0.0
        sd = statistics.stdev(v)
        return sd / math.sqrt(len(v)) if a.err == "sem" else sd

    def order(v):  # numbers by value, then strings
        return (isinstance(v, str), v)

    series = sorted({s for s, _ in samples}, key=lambda s: order(as_number(s))) if a.series else [None]
    xs = sorted({x for _, x in samples}, key=order)
    numeric_x = all(not isinstance(x, str) for x in xs)
    fig, ax = plt.subplots(figsize=FIGSIZE)
    width = 0.8 / len(series)
    for i, s in enumerate(series):
        pts = [(x, samples[(s, x)]) for x in xs if (s, x) in samples]
        means = [statistics.fmean(v) for _, v in pts]
        errs = [spread(v) for _, v in pts]
        label = f"{a.series}={s}" if a.series else None
        if a.kind == "line" and numeric_x:
            ax.errorbar([x / a.x_scale for x, _ in pts], means, yerr=errs, marker="o", capsize=3, label=label)
        else:  # bars, or a line over categories: bars at category positions
            pos = [xs.index(x) + (i - (len(series) - 1) / 2) * width for x, _ in pts]
            ax.bar(pos, means, width, yerr=errs, capsize=3, label=label)
    if a.kind == "bar" or not numeric_x:
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels([f"{x / a.x_scale:g}" if not isinstance(x, str) else x for x in xs])
    else:
        if a.logx:
            ax.set_xscale("log")
        if len(xs) <= MAX_VALUE_TICKS:  # ticks at the swept values, in plain numbers
            ax.set_xticks([x / a.x_scale for x in xs])
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if a.logy:
        ax.set_yscale("log")
    repeats = max(len(v) for v in samples.values())
    err_note = {"sd": "± 1 s.d.", "sem": "± 1 s.e.m.", "none": ""}[a.err] if repeats > 1 else ""
    ax.set_xlabel(a.xlabel or a.x)
    ax.set_ylabel(a.ylabel or a.y)
    ax.set_title(a.title or f"{a.y}{' (sum)' if len(y_columns) > 1 else ''} vs {a.x}")
    ax.grid(True, alpha=0.3)
    if a.series:
        ax.legend()
    if repeats > 1:
        fig.text(0.99, 0.01, f"mean of {repeats} repeats {err_note}", ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=DPI)
    print(f"plot_sweep: wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
