#!/usr/bin/env python3
"""Write a config that is configs/quickstart.json with its guest RAM spread
over N memslots (docs/performance.md, "Many memslots"): the low 1 GiB (page
tables and the first data) as one slot, the next 3 GiB over N - 1 slots of
equal size (a multiple of 4 KiB, the last taking the rest), all on 4 KiB host
pages, so N = 1 gives the one-slot baseline at the same backing.

usage: scripts/gen_memslots_config.py N IMPL OUT.json
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    n, impl, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if not 1 <= n <= 32764:
        sys.exit("N: expected 1 to 32764 (x86's KVM_USER_MEM_SLOTS)")
    gib = 1 << 30
    slots = [{"gpa": 0, "size": gib if n > 1 else 4 * gib, "backing": "4K"}]
    if n > 1:
        pages = 3 * gib // 4096
        per = pages // (n - 1)
        gpa = gib
        for i in range(n - 1):
            p = per + (pages - per * (n - 1) if i == n - 2 else 0)
            slots.append({"gpa": gpa, "size": p * 4096, "backing": "4K"})
            gpa += p * 4096
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = {"include": os.path.join(root, "configs", "quickstart.json"), "hv": {"memslots_impl": impl, "memslots": slots}}
    with open(out, "w") as f:
        json.dump(cfg, f)


if __name__ == "__main__":
    main()
