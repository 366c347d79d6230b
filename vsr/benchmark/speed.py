"""``vsr bench speed``: frames per second of the real pipeline, stage by stage.

Each run is :func:`vsr.video.upscale_video` itself (decode, frame -> tensor, super-resolution,
tensor -> frame with chroma, encode, concurrently), timed by its :class:`StageTimes`. Reported per
stage: fps of the stage alone and its share of the summed stage time; end to end: fps; and the
pipeline efficiency, end-to-end fps / slowest stage's fps (1.0 means the overlap hides everything
but the bottleneck).
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import av
import numpy as np

from ..backends.base import Runner
from ..errors import InputError
from ..rates import format_rate
from ..video import StageTimes, upscale_video
from ..video.containers import Y4M
from ..video.stages import STAGES

#: The "4K frames" suite: (input width, height, scale); outputs reach 3840x2160 (or 7680x4320).
SUITE_4K = ((1920, 1080, 2), (1280, 720, 3), (960, 540, 4), (3840, 2160, 2))


def synthetic_clip(folder: Path, width: int, height: int, frames: int, rate: int = 25) -> Path:
    """A raw y4m of moving, textured frames (so the encoder does real work), yuv420p."""
    path = folder / f"synthetic_{width}x{height}_{frames}.y4m"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = rng.integers(0, 40, (height, width), dtype=np.uint8)
    with av.open(str(path), "w", format=Y4M) as out:
        stream = out.add_stream("rawvideo", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            luma = (128 + 60 * np.sin((xx + 7 * i) / 37.0) * np.cos((yy - 5 * i) / 23.0)).astype(np.uint8) + texture
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(luma), format="gray").reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def clip_prefix(source: Path, folder: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as raw y4m (decode is then raw-y4m decode)."""
    path = folder / f"prefix_{frames}.y4m"
    with av.open(str(source)) as src, av.open(str(path), "w", format=Y4M) as out:
        vin = src.streams.video[0]
        stream = out.add_stream("rawvideo", rate=vin.average_rate or 25)
        stream.width, stream.height, stream.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        for i, frame in enumerate(src.decode(vin)):
            if i >= frames:
                break
            converted = frame.reformat(format="yuv420p")
            converted.pts = i
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return path


def _warm_up(runner: Runner, width: int, height: int, frames: int) -> None:
    plane = np.random.default_rng(1).random((1, height, width), dtype=np.float32)
    for _ in range(frames):
        runner.run(plane)


def _input_size(path: Path) -> tuple[int, int, int]:
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            frames = s.frames or sum(1 for _ in c.decode(s))
            return s.codec_context.width, s.codec_context.height, frames
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"{path}: not a video vsr can read ({exc})") from None


def measure_clip(source: Path, runner: Runner, repeats: int = 3, warmup: int = 1, codec: str | None = None,
                 preset: str | None = None, batch: int | None = None) -> dict:
    """Run the pipeline ``repeats`` times on ``source``; the median run's stages, and the spread."""
    width, height, frames = _input_size(source)
    _warm_up(runner, width, height, warmup)
    runs = []
    with tempfile.TemporaryDirectory(prefix="vsr-bench-") as tmp:
        for i in range(repeats):
            stages = StageTimes()
            target = Path(tmp) / f"out{i}.mkv"
            upscale_video(source, target, runner, overwrite=True, codec=codec, preset=preset, batch=batch, stages=stages)
            runs.append(stages.as_dict())
    fps_values = [r["fps"] for r in runs]
    median = sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]
    stage_fps = {s: median["stage_fps"][s] for s in STAGES}
    busy = sum(median["stage_s"].values())
    slowest = min((v for v in stage_fps.values() if v), default=None)
    return {
        "input": str(source),
        "input_size": [width, height],
        "output_size": [width * runner.scale, height * runner.scale],
        "scale": runner.scale,
        "frames": median["frames"],
        "fps": median["fps"],
        "fps_runs": fps_values,
        "fps_spread": [min(fps_values), max(fps_values)],
        "fps_stdev": statistics.pstdev(fps_values) if len(fps_values) > 1 else 0.0,
        "stage_fps": stage_fps,
        "stage_share": {s: (median["stage_s"][s] / busy if busy else None) for s in STAGES},
        "stage_ms_per_frame": median["stage_ms_per_frame"],
        "slowest_stage": min(stage_fps, key=lambda s: stage_fps[s] or float("inf")),
        "pipeline_efficiency": (median["fps"] / slowest) if slowest else None,
        "runner": {"backend": runner.name, "device": runner.device, "precision": runner.precision},
    }


def speed_cases(suite: bool, sizes: list[tuple[int, int]] | None, inputs: list[str] | None, scale: int) -> list[tuple[str, object, int]]:
    """What to measure, as ``(kind, value, scale)``: the 4K suite, synthetic frame sizes, or files."""
    if suite:
        return [("size", (w, h), s) for w, h, s in SUITE_4K]
    if sizes:
        return [("size", size, scale) for size in sizes]
    for path in inputs or []:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file")
    return [("input", Path(p), scale) for p in inputs or []]


def speed_suite(cases: list, runner_for, frames: int | None, repeats: int, warmup: int, announce=None, **video_options) -> list[dict]:
    """:func:`measure_clip` for every case; ``runner_for(scale)`` gives the runner (built once per
    scale by the caller if it wants), ``frames`` cuts inputs (synthetic clips: 10 by default), and
    ``announce(i, n, label)`` is told before each case starts."""
    results = []
    with tempfile.TemporaryDirectory(prefix="vsr-bench-clips-") as tmp:
        for i, (kind, value, scale) in enumerate(cases):
            runner = runner_for(scale)
            if kind == "size":
                clip = synthetic_clip(Path(tmp), value[0], value[1], frames or 10)
                label, described = f"{value[0]}x{value[1]}", f"synthetic {value[0]}x{value[1]}"
            else:
                clip = clip_prefix(value, Path(tmp), frames) if frames else value
                label, described = value.name, str(value)
            if announce is not None:
                announce(i + 1, len(cases), f"{label} x{scale}")
            result = measure_clip(clip, runner, repeats=repeats, warmup=warmup, **video_options)
            result["input"] = described
            results.append(result)
    return results


def speed_markdown(report: dict) -> str:
    head = ["input", "in → out", "backend", "frames", "e2e fps (min–max)"] + [f"{s} fps" for s in STAGES] + ["bottleneck", "efficiency"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["results"]:
        cells = [
            Path(r["input"]).name,
            f"{r['input_size'][0]}×{r['input_size'][1]} → {r['output_size'][0]}×{r['output_size'][1]} (x{r['scale']})",
            f"{r['runner']['backend']} {r['runner']['device']} {r['runner']['precision']}",
            str(r["frames"]),
            f"{r['fps']:.2f} ({r['fps_spread'][0]:.2f}–{r['fps_spread'][1]:.2f})",
        ]
        cells += [f"{r['stage_fps'][s]:.1f} ({100 * r['stage_share'][s]:.0f}%)" if r["stage_fps"][s] else "–" for s in STAGES]
        cells += [r["slowest_stage"], f"{r['pipeline_efficiency']:.2f}" if r["pipeline_efficiency"] else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Stage fps = frames / seconds that stage worked (stages overlap in threads); (share of summed stage time). "
                 "Efficiency = end-to-end fps / slowest stage's fps. e2e fps is the median of the repeats.")
    return "\n".join(lines) + "\n"


def plot_speed(report: dict, png_path: str | Path) -> Path | None:
    """Per-stage breakdown: for each input, ms per frame of every stage beside the end-to-end
    time, each bar labelled with its value (stages overlap in threads; the slowest one bounds the
    end-to-end time). None without matplotlib."""
    from .report import pyplot, save_figure

    plt = pyplot()
    if plt is None:
        return None
    results = report["results"]
    names = list(STAGES) + ["end to end"]
    fig, ax = plt.subplots(figsize=(max(7, 2.2 * len(results)), 4.8))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [(1000.0 / r["fps"] if r["fps"] else float("nan")) if name == "end to end" else (r["stage_ms_per_frame"][name] or 0.0)
                  for r in results]
        drawn = ax.bar([x + i * width for x in range(len(results))], values, width, label=name,
                       color="black" if name == "end to end" else None)
        ax.bar_label(drawn, labels=[f"{v:.1f}" for v in values], fontsize=7, padding=1, rotation=90)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(results))])
    ax.set_xticklabels([
        f"{Path(r['input']).name}\n{r['input_size'][0]}x{r['input_size'][1]} -> {r['output_size'][0]}x{r['output_size'][1]}"
        f"\n{r['runner']['backend']} {r['runner']['device']} {r['runner']['precision']}, {format_rate(r['fps'])} fps"
        for r in results
    ], fontsize=8)
    ax.set_ylabel("milliseconds per frame")
    ax.set_title(f"vsr bench speed: {report.get('model', '')} pipeline, ms per frame by stage\n"
                 "(stages run concurrently in threads; the slowest bounds the end-to-end time)", fontsize=9)
    ax.margins(y=0.15)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over a bar
    fig.tight_layout()
    save_figure(fig, png_path)
    plt.close(fig)
    return Path(png_path)
