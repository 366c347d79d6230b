"""``vsr bench quality``: vsr's models beside bicubic, OpenCV and the published tables.

Every column is scored by :mod:`vsr.evaluation` on the same pairs in the same run, so the figures
for vsr equal ``vsr eval``'s. A column that cannot run (no opencv-contrib, no shipped weights)
carries the reason instead of numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..evaluation import bicubic_method, evaluate_methods, model_method, protocol_pairs
from ..models import find_shipped
from .peers import OpenCvSuperRes, opencv_unavailable_reason


def load_published(path: str | Path | None = None) -> dict:
    """Published figures {method: {set: {scale: [psnr, ssim]}}} and their sources.

    ``path`` None: the table that ships inside the package (``vsr/benchmark/published.json``).
    A path that is given must exist: a typo never silently drops the paper columns.
    """
    from ..errors import InputError

    if path is None:
        from importlib.resources import files

        return json.loads(files(__package__).joinpath("published.json").read_text())
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (--published)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the published figures ({exc})") from None


def published_figure(published: dict, method: str, dataset: str, scale: int):
    cell = published.get("figures", {}).get(method, {}).get(dataset, {}).get(str(scale))
    return None if cell is None else {"psnr": cell[0], "ssim": cell[1]}


def quality_suite(
    datasets: dict[str, Path],
    scales: list[int],
    models: list[str],
    runner_for,
    opencv_models_dir: Path | None,
    published: dict,
    progress=None,
) -> dict:
    """Scores of every column on every dataset and scale.

    ``runner_for(model, scale)`` returns a runner, or raises ``VsrError`` (e.g. no shipped
    weights), in which case that column records the reason.
    """
    from ..errors import VsrError

    results = []
    opencv_reason = opencv_unavailable_reason()
    if opencv_reason is None and opencv_models_dir is None:
        opencv_reason = "no OpenCV models folder (give --data DIR holding models/opencv/*.pb)"
    elif opencv_reason is None and not Path(opencv_models_dir).is_dir():
        opencv_reason = f"OpenCV models folder not found ({opencv_models_dir})"
    for dataset, hr_dir in datasets.items():
        for scale in scales:
            methods, skipped = {"bicubic": bicubic_method}, {}
            for model in models:
                try:
                    methods[f"vsr-{model}"] = model_method(runner_for(model, scale))
                except VsrError as exc:
                    skipped[f"vsr-{model}"] = str(exc)
            for algorithm in ("espcn", "fsrcnn"):
                label = f"opencv-{algorithm}"
                if opencv_reason:
                    skipped[label] = opencv_reason
                    continue
                try:
                    methods[label] = OpenCvSuperRes(algorithm, scale, opencv_models_dir).method
                except FileNotFoundError as exc:
                    skipped[label] = str(exc)
            scored = evaluate_methods(protocol_pairs(hr_dir, scale), methods, scale, progress=progress)
            published_cells = {m: published_figure(published, m, dataset, scale) for m in ("bicubic", "espcn", "msrn")}
            results.append(
                {
                    "dataset": dataset,
                    "scale": scale,
                    "images": len(scored["images"]),
                    "mean": scored["mean"],
                    "skipped": skipped,
                    "published": {k: v for k, v in published_cells.items() if v is not None},
                    "per_image": scored["images"],
                    "shipped_weights": {m: (find_shipped(m, scale) or {}).get("sha256") for m in models},
                }
            )
    return {"results": results, "published_sources": published.get("sources", {})}


def quality_markdown(report: dict) -> str:
    """One table: rows = dataset x scale, columns = methods (measured) and published figures."""
    columns: list[str] = []
    for r in report["results"]:
        for m in list(r["mean"]) + list(r["skipped"]):
            if m not in columns:
                columns.append(m)
    pub_columns = sorted({m for r in report["results"] for m in r["published"]})
    head = ["set", "scale"] + columns + [f"paper {m}" for m in pub_columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = {}
    for r in report["results"]:
        cells = [r["dataset"], f"x{r['scale']}"]
        for m in columns:
            if m in r["mean"]:
                cells.append(f"{r['mean'][m]['psnr']:.2f} / {r['mean'][m]['ssim']:.4f}")
            else:
                notes.setdefault(m, r["skipped"].get(m, "not run"))
                cells.append("n/a*")
        for m in pub_columns:
            p = r["published"].get(m)
            cells.append("" if p is None else (f"{p['psnr']:.2f}" + (f" / {p['ssim']:.4f}" if p["ssim"] is not None else "")))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Y-PSNR (dB) / Y-SSIM, BT.601 Y, LR by MATLAB-compatible bicubic, `scale` pixels shaved.")
    for m, reason in notes.items():
        lines.append(f"\n\\* {m}: {reason}")
    return "\n".join(lines) + "\n"


def video_luma_frames(path: str | Path, max_frames: int | None = None):
    """The 8-bit luma planes of a video's frames, in order (as the ESPCN paper's video tests use Y)."""
    import av

    from ..errors import InputError

    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if max_frames is not None and i >= max_frames:
                    return
                yield frame.to_ndarray(format="gray")
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"{path}: not a video vsr can read ({exc})") from None


def video_quality(path: str | Path, runner, max_frames: int | None = None) -> dict:
    """ESPCN paper's video protocol: each frame's Y downscaled by our bicubic, upscaled again by the
    model and by bicubic; PSNR per frame (``scale`` pixels shaved) and the means."""
    from ..imaging.luma import y8_from_model, y8_to_model
    from ..imaging.metrics import psnr_y
    from ..imaging.resize import imresize

    s = runner.scale
    rows = []
    for index, y in enumerate(video_luma_frames(path, max_frames)):
        h, w = (y.shape[0] // s) * s, (y.shape[1] // s) * s
        hr = np.ascontiguousarray(y[:h, :w])
        lr = imresize(hr, 1.0 / s)
        sr = y8_from_model(runner.run(y8_to_model(lr[None]))[0])
        rows.append({"frame": index, "model": psnr_y(sr, hr, shave=s), "bicubic": psnr_y(imresize(lr, float(s)), hr, shave=s)})
    if not rows:
        from ..errors import InputError

        raise InputError(f"{path}: no frames")
    return {
        "video": str(path),
        "scale": s,
        "frames": len(rows),
        "mean": {k: float(np.mean([r[k] for r in rows])) for k in ("model", "bicubic")},
        "per_frame": rows,
    }


def video_quality_markdown(videos: list[dict], label: str) -> str:
    lines = ["| video | scale | frames | " + label + " PSNR | bicubic PSNR | gain |", "|---|---|---|---|---|---|"]
    for v in videos:
        m = v["mean"]
        lines.append(f"| {Path(v['video']).name} | x{v['scale']} | {v['frames']} | {m['model']:.2f} | {m['bicubic']:.2f} | {m['model'] - m['bicubic']:+.2f} |")
    return "\n".join(lines) + "\n\nMean Y-PSNR (dB) over frames: each frame's Y downscaled by MATLAB-compatible bicubic and upscaled again (ESPCN paper's video protocol), `scale` pixels shaved.\n"
