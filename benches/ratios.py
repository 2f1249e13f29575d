#!/usr/bin/env python3
"""Prints the inbound benchmark's results (Criterion medians from the last
`cargo bench --bench inbound` run) as a Markdown table: floor, full path, ratio, target;
then, for the cases that have them (Salesforce), the bound (the floor plus a validating scan of
the JSON document held in a string, the least any correct reading does) and trees (the floor's
parse applied to both documents: the event's tree, then the tree of the document in its string).

usage: benches/ratios.py [CRITERION_DIR]   (default $CARGO_TARGET_DIR/criterion or target/criterion)
"""
import json
import os
import pathlib
import sys

TARGET = 1.2


def median_ns(d):
    p = d / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"] if p.exists() else None


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    default = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", root / "target")) / "criterion"
    base = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    rows, bounds = [], []
    for g in sorted(base.glob("inbound_*_*")):
        _, provider, size = g.name.rsplit("_", 2)
        floor, full = median_ns(g / "floor"), median_ns(g / "full")
        if floor and full:
            rows.append((int(size), provider, floor, full))
            bound, trees = median_ns(g / "bound"), median_ns(g / "trees")
            if bound and trees:
                bounds.append((int(size), provider, floor, bound, trees, full))
    print("| provider | body | floor (median) | full path (median) | ratio | target <= 1.2 |")
    print("|---|---|---|---|---|---|")
    for size, provider, floor, full in sorted(rows):
        r = full / floor
        print(f"| {provider} | {size} B | {floor / 1000:.2f} µs | {full / 1000:.2f} µs | "
              f"{r:.2f} | {'met' if r <= TARGET else 'missed'} |")
    if bounds:
        print()
        print("| provider | body | floor | bound | bound / floor | full / bound | trees | "
              "trees / floor | full / trees |")
        print("|---|---|---|---|---|---|---|---|---|")
        for size, provider, floor, bound, trees, full in sorted(bounds):
            print(f"| {provider} | {size} B | {floor / 1000:.2f} µs | {bound / 1000:.2f} µs | "
                  f"{bound / floor:.2f} | {full / bound:.2f} | {trees / 1000:.2f} µs | "
                  f"{trees / floor:.2f} | {full / trees:.2f} |")


if __name__ == "__main__":
    main()
