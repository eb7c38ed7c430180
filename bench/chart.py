"""The benchmark's PNG: T1/T0, API writes per object and peak RSS against N, one line per setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.table import held_floor


def draw(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    panels = (
        ("T1 / T0 (lower is better; target 1.5)", lambda r: r["t1_over_t0"], 1.5),
        ("operator API writes per object (target 3)", lambda r: r["siteplane"]["operator_writes_per_object"], 3.0),
        ("operator peak RSS, MB (target 500)", lambda r: r["siteplane"]["operator_peak_rss_mb"], 500.0),
    )
    figure, axes = plt.subplots(1, len(panels), figsize=(15, 4.2))
    setups = sorted({r["setup"] for r in results})
    for axis, (title, value, target) in zip(axes, panels, strict=True):
        for setup in setups:
            rows = sorted((r for r in results if r["setup"] == setup), key=lambda r: r["n"])
            axis.plot([r["n"] for r in rows], [value(r) for r in rows], marker="o", label=setup)
            if axis is axes[0] and all("floor_over_t0" in r for r in rows):
                # The kopf floor: a kopf operator that only writes Ready. siteplane cannot beat it.
                floors = [r["floor_over_t0"] for r in rows]
                axis.plot([r["n"] for r in rows], floors, linestyle=":", marker=".", label=f"kopf floor ({setup})")
            held = [held_floor(r) for r in rows] if axis is axes[2] else []
            if held and all(held):
                # kopf alone with all N handlers in flight at once, as during siteplane's burst.
                rss = [floor["operator_peak_rss_mb"] for floor in held if floor]
                axis.plot([r["n"] for r in rows], rss, linestyle=":", marker=".", label=f"kopf, N in flight ({setup})")
        axis.axhline(target, color="grey", linestyle="--", linewidth=1)
        axis.set_xscale("log")
        axis.set_ylim(bottom=0)
        axis.set_xlabel("N (Sites; zones = N/20)")
        axis.set_title(title, fontsize=10)
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
