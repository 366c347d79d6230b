"""End-to-end fps of `vsr upscale` x2 beside decode-only, encode-only and OpenCV dnn_superres ESPCN.

All rows run on the same frames of the same clip, in the same process and run:

- ``decode``: PyAV demux + decode of the clip, nothing else (the floor any tool pays to read);
- ``encode``: libx264 (vsr's default settings) encoding the same number of frames at the output
  size, frames prepared beforehand (the floor any tool pays to write);
- ``vsr``: :func:`vsr.upscale_video` end to end (decode, luma SR, chroma, encode, concurrently),
  model loaded beforehand, with its per-stage times;
- ``vsr-one-session`` (ONNX Runtime on the CPU): the same with one session splitting each
  operator across its threads instead of single-threaded sessions side by side, timed in turns
  with ``vsr``;
- ``vsr-cli``: ``python -m vsr upscale`` as a subprocess: the same, plus interpreter start-up and
  model loading, i.e. what a user waits for;
- ``opencv``: OpenCV ``dnn_superres`` ESPCN x2 doing the same job with OpenCV only
  (``cv2.VideoCapture`` -> ``upsample`` -> ``cv2.VideoWriter``, mp4v: the pip wheels have no x264);
- ``opencv+pyav``: the same OpenCV model between PyAV decode and the same libx264 encode as vsr,
  so only the super-resolution differs from the ``vsr`` row.

The clip is run as given and, with ``--loop N``, repeated N times in a y4m of its own, so that
start-up and the encoder's lookahead are spread over more frames. Each timing is the median of
``--repeats`` runs. Results go to ``bench/results/video_e2e_<time>.{json,md}``.

Usage::

    python bench/bench_video_e2e.py [--input ../shared/data/video/bus_cif.y4m] [--loop 4] [--repeats 3]
        [--backend auto] [--threads N] [--weights PATH]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
SCALE = 2


def median_times_alternating(fns: dict, repeats: int) -> dict:
    """Median seconds of each of ``fns``, run in turns, so a disturbance falls on all alike."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def median_time(fn, repeats: int) -> float:
    return median_times_alternating({"": fn}, repeats)[""]


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def decode_only(clip: Path) -> None:
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass


def upscaled_frames(clip: Path) -> list:
    """The clip's frames, bicubic-upscaled by swscale: realistic content for encode-only."""
    with av.open(str(clip)) as container:
        return [
            f.reformat(width=SCALE * f.width, height=SCALE * f.height, format="yuv420p", interpolation="BICUBIC")
            for f in container.decode(video=0)
        ]


def encode_only(frames: list, rate, target: Path) -> None:
    with av.open(str(target), "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for index, frame in enumerate(frames):
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))


def opencv_native(clip: Path, sr, target: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise RuntimeError(f"OpenCV cannot open {clip}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    frames = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        up = sr.upsample_bgr(bgr)
        if writer is None:
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (up.shape[1], up.shape[0]))
        writer.write(up)
        frames += 1
    capture.release()
    if writer is not None:
        writer.release()
    return frames


def opencv_pyav(clip: Path, sr, target: Path) -> None:
    with av.open(str(clip)) as container, av.open(str(target), "w") as out:
        stream = container.streams.video[0]
        video = out.add_stream("libx264", rate=stream.average_rate)
        video.width, video.height, video.pix_fmt = SCALE * stream.codec_context.width, SCALE * stream.codec_context.height, "yuv420p"
        for frame in container.decode(stream):
            up = sr.upsample_bgr(frame.to_ndarray(format="bgr24"))
            new = av.VideoFrame.from_ndarray(up, format="bgr24").reformat(format="yuv420p")
            new.pts = frame.pts
            new.time_base = frame.time_base
            out.mux(video.encode(new))
        out.mux(video.encode(None))


def vsr_cli_seconds(clip: Path, target: Path, args) -> float:
    command = [sys.executable, "-m", "vsr", "upscale", str(clip), str(target), "-y", "--quiet", "--backend", args.backend]
    if args.weights:
        command += ["--weights", args.weights]
    if args.threads:
        command += ["--threads", str(args.threads)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode().strip())
    return seconds


def bench_clip(clip: Path, label: str, runner, sr, args, work: Path, one_session=None) -> dict:
    from vsr.video import StageTimes, upscale_video

    frames = count_frames(clip)
    with av.open(str(clip)) as container:
        rate = container.streams.video[0].average_rate
        width, height = container.streams.video[0].codec_context.width, container.streams.video[0].codec_context.height
    rows: dict[str, dict] = {}

    def add(name: str, seconds: float, note: str = "") -> None:
        rows[name] = {"seconds": seconds, "fps": frames / seconds, "ms_per_frame": 1000 * seconds / frames, "note": note}

    add("decode", median_time(lambda: decode_only(clip), args.repeats), "PyAV demux + decode")
    prepared = upscaled_frames(clip)
    add("encode", median_time(lambda: encode_only(prepared, rate, work / "encode.mp4"), args.repeats), f"libx264 defaults, {SCALE * width}x{SCALE * height}")

    stage_runs = []

    def run_vsr() -> None:
        stages = StageTimes()
        upscale_video(clip, work / "vsr.mp4", runner, overwrite=True, stages=stages, warn=lambda _: None)
        stage_runs.append(stages)

    fns = {"vsr": run_vsr}
    if one_session is not None:
        fns["vsr-one-session"] = lambda: upscale_video(clip, work / "vsr1.mp4", one_session, overwrite=True, warn=lambda _: None)
    seconds = median_times_alternating(fns, args.repeats)
    add("vsr", seconds["vsr"], f"upscale_video, {runner.name} backend on {runner.device}, model loaded")
    if one_session is not None:
        add("vsr-one-session", seconds["vsr-one-session"], "the same with one ORT session splitting each operator (before side-by-side workers)")
    stages = sorted(stage_runs, key=lambda s: s.wall_s)[len(stage_runs) // 2]
    if not args.skip_cli:
        add("vsr-cli", median_time(lambda: vsr_cli_seconds(clip, work / "cli.mp4", args), max(1, args.repeats // 2)), "python -m vsr upscale, incl. start-up and model load")
    if sr is not None:
        add("opencv", median_time(lambda: opencv_native(clip, sr, work / "opencv.mp4"), args.repeats), "cv2 VideoCapture -> dnn_superres ESPCN -> VideoWriter mp4v")
        add("opencv+pyav", median_time(lambda: opencv_pyav(clip, sr, work / "opencv_pyav.mp4"), args.repeats), "PyAV decode -> dnn_superres ESPCN -> libx264 (as vsr)")
    vsr_fps = rows["vsr"]["fps"]
    ratios = {f"vsr/{name}": vsr_fps / row["fps"] for name, row in rows.items() if name != "vsr"}
    return {
        "clip": label,
        "path": str(clip),
        "frames": frames,
        "size": [width, height],
        "rows": rows,
        "ratios": ratios,
        "vsr_stages": stages.as_dict(),
        "goal": {
            "real_time_25fps": vsr_fps >= 25.0,
            "twice_opencv": ("opencv+pyav" in rows and vsr_fps >= 2 * rows["opencv+pyav"]["fps"]) if sr is not None else None,
        },
    }


def markdown(result: dict) -> str:
    """One clip's rows as a table, vsr's speed over each row's beside it."""
    lines = [f"{result['clip']}: {result['frames']} frames {result['size'][0]}x{result['size'][1]} -> x{SCALE}", "",
             "| row | fps | ms/frame | vsr is × | what |", "|---|---:|---:|---:|---|"]
    vsr_fps = result["rows"]["vsr"]["fps"]
    for name, row in result["rows"].items():
        ratio = "" if name == "vsr" else f"{vsr_fps / row['fps']:.2f}"
        lines.append(f"| {name} | {row['fps']:.2f} | {row['ms_per_frame']:.1f} | {ratio} | {row['note']} |")
    stages = result["vsr_stages"]["stage_ms_per_frame"]
    lines += ["", "vsr stages (ms/frame, overlapping): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DATA / "video" / "bus_cif.y4m")
    parser.add_argument("--loop", type=int, default=4, help="also run on the clip repeated N times (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--weights", default=None, help="vsr weights (default: shipped ESPCN x2)")
    parser.add_argument("--opencv-models", type=Path, default=DATA / "models" / "opencv")
    parser.add_argument("--skip-cli", action="store_true", help="skip the subprocess row")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if not args.input.is_file():
        print(f"bench_video_e2e: {args.input}: not found", file=sys.stderr)
        return 1

    from vsr.api import prepare_runner
    from vsr.benchmark.peers import OpenCvSuperRes, opencv_unavailable_reason
    from vsr.benchmark.clips import write_y4m_clip
    from vsr.benchmark.report import script_command, write_report

    runner = prepare_runner("espcn", SCALE, weights=args.weights, backend=args.backend, threads=args.threads)  # CLI defaults
    one_session = None
    if runner.name == "onnxruntime" and runner.device == "cpu":
        from vsr.backends import OnnxRuntimeBackend, build_runner
        from vsr.models import load_model

        one_session = build_runner(load_model("espcn", SCALE, args.weights), OnnxRuntimeBackend(threads=args.threads, side_by_side=False))
    why_no_opencv = opencv_unavailable_reason()
    sr = None if why_no_opencv else OpenCvSuperRes("espcn", SCALE, args.opencv_models)
    if why_no_opencv:
        print(f"bench_video_e2e: OpenCV rows skipped: {why_no_opencv}", file=sys.stderr)
    opencv_threads = None
    if sr is not None:
        import cv2

        opencv_threads = cv2.getNumThreads()

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="vsr-bench-") as tmp:
        work = Path(tmp)
        results.append(bench_clip(args.input, args.input.name, runner, sr, args, work, one_session))
        print(markdown(results[-1]), flush=True)
        if args.loop > 1:
            looped = work / f"looped_x{args.loop}.y4m"
            write_y4m_clip(args.input, looped, loops=args.loop)
            results.append(bench_clip(looped, f"{args.input.name} looped x{args.loop}", runner, sr, args, work, one_session))
            print(markdown(results[-1]), flush=True)

    import torch

    report = {
        "benchmark": "video_e2e",
        "started": started,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "ffmpeg_libraries": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
        "opencv": None if sr is None else {"version": __import__("cv2").__version__, "threads": opencv_threads, "model": "ESPCN_x2.pb"},
        "opencv_skipped": why_no_opencv,
        "vsr_runner": {"name": runner.name, "device": runner.device, "precision": runner.precision, "torch_threads": torch.get_num_threads()},
        "scale": SCALE,
        "repeats": args.repeats,
        "results": results,
    }
    json_path, md_path = write_report(report, args.out / f"video_e2e_{time.strftime('%Y%m%d-%H%M%S')}.json", script_command(),
                                      "\n".join(markdown(r) for r in results), default=float)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
