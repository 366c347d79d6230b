"""Writing benchmark results: JSON (with machine, versions and command), Markdown, plots."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from ..files import atomic_write, write_json_atomically
from ..sysinfo import machine_info


#: Where results go without --json: a folder named for them in the current directory, never a
#: checkout's tracked bench/results/ (results kept there are chosen and committed on purpose).
DEFAULT_FOLDER = "vsr-bench"


def default_output(kind: str, folder: str | Path = DEFAULT_FOLDER) -> Path:
    """vsr-bench/<kind>-<UTC timestamp>.json"""
    return Path(folder) / f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"


def script_command() -> str:
    """How a bench/ script was run, as one could paste it again: ``python bench/x.py --flag value``."""
    return "python " + shlex.join(sys.argv)


def write_report(report: dict, json_path: str | Path, command: str, markdown: str, default=None) -> tuple[Path, Path]:
    """Write ``report`` (plus machine, versions, command, date) as JSON and its table as Markdown
    beside it; every benchmark's results go through here, so each file names the machine that
    measured it and how. ``default`` is :func:`json.dumps`'s (``float`` for numpy's scalars)."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    full = {
        "command": command,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        **report,
    }
    write_json_atomically(json_path, full, default=default)
    md_path = json_path.with_suffix(".md")
    machine = full["machine"]
    details = machine.get("cpu_details") or {}
    cpu = machine["cpu"] + (f" (family {details['family']} model {details['model']}, {details['vector_isa']})" if details else "")
    with atomic_write(md_path) as temp:
        temp.write_text(f"Command: `{command}`\n\nMachine: {cpu}, {machine['cores']} cores, GPU: {machine['gpu'] or 'none'}\n\n{markdown}")
    return json_path, md_path


def save_figure(fig, png_path: str | Path) -> None:
    """A plot as a PNG, written whole or not at all (like every file vsr writes)."""
    with atomic_write(png_path) as temp:
        fig.savefig(temp, dpi=110, format="png")


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_quality_gain(report: dict, png_path: str | Path) -> Path | None:
    """Bar chart: Y-PSNR gain over bicubic per set and scale, one bar per method measured here (vsr
    and its peers) and, hatched, per published figure (the paper's own gain over its own bicubic),
    each bar labelled with its value. None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    results = report["results"]
    measured = sorted({m for r in results for m in r["mean"] if m != "bicubic"}, key=lambda m: (not m.startswith("vsr"), m))
    papers = sorted({m for r in results for m in r.get("published", {}) if m != "bicubic"})
    bars = [(m, m, None) for m in measured] + [(f"paper {m}", m, "//") for m in papers]
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(results) * max(1, len(bars)) / 3), 4.5))
    width = 0.8 / max(len(bars), 1)
    for i, (label, method, hatch) in enumerate(bars):
        gains = []
        for r in results:
            if hatch is None:
                gain = r["mean"][method]["psnr"] - r["mean"]["bicubic"]["psnr"] if method in r["mean"] else float("nan")
            else:
                pub = r.get("published", {})
                gain = pub[method]["psnr"] - pub["bicubic"]["psnr"] if method in pub and "bicubic" in pub else float("nan")
            gains.append(gain)
        drawn = ax.bar([x + i * width for x in range(len(results))], gains, width, label=label, hatch=hatch,
                       edgecolor="black" if hatch else None, linewidth=0.5)
        ax.bar_label(drawn, labels=["" if g != g else f"{g:.2f}" for g in gains], fontsize=7, padding=1)
    ax.set_xticks([x + width * (len(bars) - 1) / 2 for x in range(len(results))])
    ax.set_xticklabels([f"{r['dataset']} x{r['scale']}\n({r['images']} images)" for r in results])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.1)
    ax.set_ylabel("Y-PSNR gain over bicubic (dB)")
    ax.set_title("Super-resolution quality: gain over bicubic (BT.601 Y, MATLAB bicubic LR, border shaved)\n"
                 "measured in this run; hatched: the papers' published gains", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over a bar
    fig.tight_layout()
    save_figure(fig, png_path)
    plt.close(fig)
    return Path(png_path)
