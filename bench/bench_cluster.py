"""`vsr upscale --cluster` on a local Ray against the single pipeline, on one long clip: the overhead.

Every row upscales the same clip with the same model, backend and encoder settings, in one run:

- ``single``: :func:`vsr.upscale_video`, the runner built beforehand (as in bench_video_e2e's
  ``vsr`` row): one process, decode/SR/encode threads on all cores;
- ``single+load``: the same plus building the runner, which every cluster worker also pays;
- ``cluster-cold``: :func:`vsr.cluster.upscale_cluster` from nothing, as ``vsr upscale --cluster``
  runs it: planning, starting a local Ray with this machine's cores, workers importing torch and
  building their runners, the segments as tasks (1 CPU and 1 inference thread each), the join,
  Ray shut down;
- ``cluster-warm``: the same within a process where Ray already runs and its workers already hold
  their runners (as on a long-lived cluster), after an untimed warm-up on the first segment.

Overhead = cluster wall time / single wall time - 1. The JSON also records the segments, the
frames the busiest worker gets when segments are handed out in order (keyframes decide where
segments can be cut, so the work rarely splits evenly), task and join seconds, frame count and
timestamps checked equal, per-frame Y-PSNR of the cluster output against the single-machine one
(lossy x264 starts a GOP in every part), and the load average: on a shared machine timings are
noisy, say so beside them. Results: ``bench/results/cluster_<time>.{json,md}``.

Usage::

    python bench/bench_cluster.py [--input ../shared/data/video/vtest_768x576.avi] [--segment-frames 250]
        [--backend auto] [--codec libx264] [--repeats 1] [--skip-warm]
"""
from __future__ import annotations

import argparse
import heapq
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
SCALE = 2


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def busiest_worker_frames(segment_frames: list[int], workers: int) -> int:
    """Frames on the busiest worker when segments go, in order, to whichever worker is free first."""
    loads = [0] * workers
    heapq.heapify(loads)
    for frames in segment_frames:
        heapq.heappush(loads, heapq.heappop(loads) + frames)
    return max(loads)


def compare(single: Path, cluster: Path) -> dict:
    """Frames, timestamps and per-frame Y-PSNR (dB) of ``cluster`` against ``single``."""
    def frames(path):
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                plane = frame.planes[0]
                y = np.frombuffer(plane, np.uint8).reshape(plane.height, -1)[:, : plane.width]
                yield frame.pts, y.astype(np.float64)

    psnr, same_pts, count = [], True, 0
    for (pts_a, y_a), (pts_b, y_b) in zip(frames(single), frames(cluster), strict=True):
        count += 1
        same_pts &= pts_a == pts_b
        mse = float(np.mean((y_a - y_b) ** 2))
        psnr.append(float("inf") if mse == 0 else 10 * np.log10(255**2 / mse))
    finite = [p for p in psnr if p != float("inf")]
    return {
        "frames": count,
        "same_pts": same_pts,
        "identical_frames": len(psnr) - len(finite),
        "psnr_min_db": min(finite) if finite else None,
        "psnr_mean_db": statistics.fmean(finite) if finite else None,
        "frames_below_50db": sum(p < 50 for p in finite),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DATA / "video" / "vtest_768x576.avi")
    parser.add_argument("--segment-frames", type=int, default=250, help="segment length (vtest has a keyframe every 250 frames)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--codec", default=None, help="output encoder (default libx264, as vsr upscale)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per timing (median)")
    parser.add_argument("--skip-warm", action="store_true", help="skip the cluster-warm row")
    parser.add_argument("--note", default="", help="a line on the machine's state, recorded with the results")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if not args.input.is_file():
        print(f"bench_cluster: {args.input}: not found", file=sys.stderr)
        return 1

    import ray

    from vsr.api import prepare_runner
    from vsr.cluster import ClusterSettings, upscale_cluster
    from vsr.cluster.segments import plan_segments
    from vsr.benchmark.clips import write_y4m_clip
    from vsr.benchmark.report import script_command, write_report
    from vsr.video import upscale_video

    settings = ClusterSettings(backend=args.backend, codec=args.codec)
    plan = plan_segments(args.input, frames=args.segment_frames)
    segment_frames = [s.packets for s in plan.segments]
    workers = os.cpu_count() or 1
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    load_before = os.getloadavg()
    rows: dict[str, dict] = {}

    def add(name: str, seconds: float, times: list[float], note: str, **extra) -> None:
        rows[name] = {"wall_s": seconds, "wall_s_all": times, "fps": plan.packets / seconds, "note": note, **extra}
        print(f"{name:<13} {seconds:8.1f} s  {plan.packets / seconds:6.2f} fps  {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="vsr-bench-cluster-") as tmp:
        work = Path(tmp)
        ext = ".mp4" if args.codec in (None, "libx264", "libx265") else ".mkv"
        single_out, cluster_out = work / f"single{ext}", work / f"cluster{ext}"
        load_s, _, runner = timed(lambda: prepare_runner("espcn", SCALE, None, args.backend), 1)
        seconds, times, result = timed(lambda: upscale_video(args.input, single_out, runner, overwrite=True, codec=args.codec), args.repeats)
        add("single", seconds, times, f"upscale_video, {runner.name} on {runner.device}, runner built beforehand", stages=result.stages.as_dict())
        add("single+load", seconds + load_s, [t + load_s for t in times], f"the same plus building the runner ({load_s:.1f} s)")

        def cluster_run():
            return upscale_cluster(args.input, cluster_out, settings, "local", overwrite=True, segment_frames=args.segment_frames, warn=lambda _: None)

        seconds, times, result = timed(cluster_run, args.repeats)
        video = result.videos[0]
        add("cluster-cold", seconds, times, f"upscale_cluster from nothing: {result.cluster}, {video.segments} segments",
            segments=video.segments, task_s=video.task_s, join_s=video.join_s, hosts=result.hosts)
        quality = compare(single_out, cluster_out)

        if not args.skip_warm:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            try:
                warmup = work / "warmup.y4m"  # every frame of a y4m is a keyframe: one segment each
                write_y4m_clip(args.input, warmup, first=4 * workers)
                upscale_cluster(warmup, work / f"warmup{ext}", settings, overwrite=True, segment_frames=1, warn=lambda _: None)
                seconds, times, result = timed(cluster_run, args.repeats)
                video = result.videos[0]
                add("cluster-warm", seconds, times, "the same with Ray running and its workers' runners built",
                    segments=video.segments, task_s=video.task_s, join_s=video.join_s, hosts=result.hosts)
            finally:
                ray.shutdown()

    single_s = rows["single"]["wall_s"]
    for name in ("cluster-cold", "cluster-warm"):
        if name in rows:
            rows[name]["overhead_vs_single"] = rows[name]["wall_s"] / single_s - 1
            rows[name]["overhead_vs_single_with_load"] = rows[name]["wall_s"] / rows["single+load"]["wall_s"] - 1
    busiest = busiest_worker_frames(segment_frames, workers)
    report = {
        "benchmark": "cluster",
        "started": started,
        "note": args.note,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "ffmpeg_libraries": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
        "input": {"path": str(args.input), "frames": plan.packets, "time_base": str(plan.time_base)},
        "scale": SCALE,
        "settings": {"backend": args.backend, "codec": args.codec or "libx264", "segment_frames": args.segment_frames, "ray_workers": workers},
        "segments": segment_frames,
        "balance": {"busiest_worker_frames": busiest, "even_split_frames": plan.packets / workers, "ratio": busiest / (plan.packets / workers)},
        "repeats": args.repeats,
        "rows": rows,
        "cluster_vs_single_output": quality,
    }
    table = markdown(report)
    json_path, md_path = write_report(report, args.out / f"cluster_{time.strftime('%Y%m%d-%H%M%S')}.json", script_command(), table,
                                      default=float)
    print(table)
    print(f"wrote {json_path} and {md_path}")
    return 0


def markdown(report: dict) -> str:
    rows = report["rows"]
    inp, balance, quality = report["input"], report["balance"], report["cluster_vs_single_output"]
    lines = [
        (
            f"`{Path(inp['path']).name}`, {inp['frames']} frames, x{report['scale']}, {report['settings']['codec']}, "
            f"backend {report['settings']['backend']}; segments {report['segments']} on {report['settings']['ray_workers']} Ray workers "
            f"(busiest worker: {balance['busiest_worker_frames']} frames, {balance['ratio']:.2f}x an even split). "
            f"Load average {report['load_average_before'][0]:.2f} before, {report['load_average_after'][0]:.2f} after. {report['note']}"
        ),
        "",
        "| row | wall s | fps | overhead vs single | vs single+load | what |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, row in rows.items():
        over = row.get("overhead_vs_single")
        over_load = row.get("overhead_vs_single_with_load")
        lines.append(
            f"| {name} | {row['wall_s']:.1f} | {row['fps']:.2f} | {'' if over is None else f'{100 * over:+.0f} %'} | "
            f"{'' if over_load is None else f'{100 * over_load:+.0f} %'} | {row['note']} |"
        )
    psnr = "identical" if quality["psnr_min_db"] is None else f"min {quality['psnr_min_db']:.2f} dB, mean {quality['psnr_mean_db']:.2f} dB, {quality['frames_below_50db']} frames below 50 dB"
    lines += [
        "",
        (
            f"Cluster output against the single-machine output: {quality['frames']} frames, timestamps "
            f"{'equal' if quality['same_pts'] else 'DIFFERENT'}, {quality['identical_frames']} frames bit-identical, Y-PSNR {psnr}."
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
