"""Writing benchmark results: JSON (with machine, versions and command), Markdown, plots."""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..sysinfo import machine_info


#: Where results go without --json: a folder named for them in the current directory, never a
#: checkout's tracked bench/results/ (results kept there are chosen and committed on purpose).
DEFAULT_FOLDER = "vsr-bench"


def default_output(kind: str, folder: str | Path = DEFAULT_FOLDER) -> Path:
    """vsr-bench/<kind>-<UTC timestamp>.json"""
    return Path(folder) / f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"


def write_report(report: dict, json_path: str | Path, command: str, markdown: str) -> tuple[Path, Path]:
    """Write ``report`` (plus machine, versions, command, date) as JSON and its table as Markdown."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    full = {
        "command": command,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        **report,
    }
    json_path.write_text(json.dumps(full, indent=2) + "\n")
    md_path = json_path.with_suffix(".md")
    machine = full["machine"]
    details = machine.get("cpu_details") or {}
    cpu = machine["cpu"] + (f" (family {details['family']} model {details['model']}, {details['vector_isa']})" if details else "")
    md_path.write_text(f"Command: `{command}`\n\nMachine: {cpu}, {machine['cores']} cores, GPU: {machine['gpu'] or 'none'}\n\n{markdown}")
    return json_path, md_path


def plot_quality_gain(report: dict, png_path: str | Path) -> Path | None:
    """Bar chart: PSNR gain over bicubic per set and scale, one bar per method (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    results = report["results"]
    methods = sorted({m for r in results for m in r["mean"] if m != "bicubic"})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(results)), 4))
    width = 0.8 / max(len(methods), 1)
    for i, m in enumerate(methods):
        gains = [r["mean"][m]["psnr"] - r["mean"]["bicubic"]["psnr"] if m in r["mean"] else 0.0 for r in results]
        ax.bar([x + i * width for x in range(len(results))], gains, width, label=m)
    ax.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(results))])
    ax.set_xticklabels([f"{r['dataset']} x{r['scale']}" for r in results])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("PSNR gain over bicubic (dB)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
