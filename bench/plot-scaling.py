#!/usr/bin/env python3
"""Plots bench/scaling.sh's table: throughput, CPU per Gbit/s and RSS against concurrent streams.
Usage: plot-scaling.py TABLE.tsv OUT.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
lanes = list(dict.fromkeys(r["lane"] for r in rows))
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
panels = (("gbits", "throughput (Gbit/s)"), ("cpu_per_gbit", "engine CPU (cores per Gbit/s)"), ("rss_mib", "engine RSS (MiB)"))
for ax, (field, title) in zip(axes, panels):
    for index, lane in enumerate(lanes):
        points = [(int(r["streams"]), float(r[field])) for r in rows if r["lane"] == lane and r[field]]
        if points:
            ax.plot(*zip(*points), marker="o", label=lane, color=f"C{index}", linestyle="--" if not lane.startswith("sluice") else "-")
    ax.set_xscale("log")
    ax.set_xlabel("concurrent TCP streams")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
axes[0].legend(fontsize=8)
fig.suptitle(sys.argv[1].rsplit("/", 1)[-1])
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
