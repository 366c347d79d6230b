"""`vsr upscale` x2 as installed, beside OpenCV dnn_superres ESPCN x2 doing the same job, side by side.

Both are timed as a user waits for them: a fresh process each, start-up and model loading
included, on the same clip, in turns (vsr, OpenCV, vsr, OpenCV, ...) so that a disturbance on a
shared machine falls on both alike; each figure is the median of ``--repeats`` runs.

- ``vsr``: the ``vsr`` command of the install under test (``--vsr``, e.g. a fresh venv's
  ``bin/vsr`` with no extras), default settings: automatic backend, libx264 crf 23 / medium, mp4;
  its closing report (``--report-json``) says which backend ran;
- ``opencv``: a Python with opencv-contrib (``--opencv-python``) running what an OpenCV user
  writes: ``cv2.VideoCapture`` -> ``DnnSuperResImpl`` ESPCN x2 (``ESPCN_x2.pb``) -> ``cv2.VideoWriter``
  (mp4v: OpenCV's pip wheels have no x264, so its encoder is the cheaper one).

The clip is ``--input`` repeated ``--loop`` times into one y4m first (bus_cif.y4m, 17 frames,
x16 = 272 frames), so start-up is spread over more frames as in a real job.

vsr runs with a cache folder of its own (``XDG_CACHE_HOME`` in the bench's temporary folder): its
first run exports the ONNX graph, as a user's first run does, and is timed and reported apart
(``first_run_s``); each then runs once more untimed, and the timed runs are what every later run
of a user costs (vsr starting from its cached graph without torch).

Usage::

    python bench/bench_vs_opencv.py --vsr /tmp/v/bin/vsr --opencv-python /tmp/cvenv/bin/python \\
        --input ../shared/data/video/bus_cif.y4m --loop 16 --opencv-model ../shared/data/models/opencv/ESPCN_x2.pb \\
        [--repeats 3] [--json FILE]    # and FILE.md, the table
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vsr.benchmark.clips import write_y4m_clip  # noqa: E402
from vsr.benchmark.report import script_command, write_report  # noqa: E402

OPENCV_JOB = r"""
import sys, cv2
source, model, target = sys.argv[1:4]
sr = cv2.dnn_superres.DnnSuperResImpl_create()
sr.readModel(model)
sr.setModel("espcn", 2)
capture = cv2.VideoCapture(source)
fps = capture.get(cv2.CAP_PROP_FPS) or 25
writer = None
frames = 0
while True:
    ok, frame = capture.read()
    if not ok:
        break
    big = sr.upsample(frame)
    if writer is None:
        writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), fps, (big.shape[1], big.shape[0]))
    writer.write(big)
    frames += 1
writer.release()
print(frames)
"""


def run_vsr(vsr: str, clip: Path, target: Path, report: Path, cache: Path) -> float:
    start = time.perf_counter()
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([vsr, "upscale", str(clip), str(target), "-y", "-q", "--report-json", str(report)], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_vs_opencv: vsr failed: {done.stderr.strip()}")
    return seconds


def run_opencv(python: str, clip: Path, model: Path, target: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([python, "-c", OPENCV_JOB, str(clip), str(model), str(target)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_vs_opencv: OpenCV failed: {done.stderr.strip()[-300:]}")
    return seconds, int(done.stdout.strip())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vsr", required=True, help="the vsr command of the install under test")
    p.add_argument("--opencv-python", required=True, help="a Python with opencv-contrib (cv2.dnn_superres)")
    p.add_argument("--opencv-model", required=True, type=Path, help="ESPCN_x2.pb")
    p.add_argument("--input", required=True, type=Path, help="the clip (e.g. bus_cif.y4m)")
    p.add_argument("--loop", type=int, default=16, help="repeat the clip this many times (default: 16)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each, in turns; the median is reported (default: 3)")
    p.add_argument("--json", type=Path, help="result file (default: vsr-bench/vs_opencv-<UTC time>.json)")
    args = p.parse_args()
    for path in (args.input, args.opencv_model):
        if not path.is_file():
            sys.exit(f"bench_vs_opencv: {path}: no such file")
    out = args.json or Path("vsr-bench") / f"vs_opencv-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    with tempfile.TemporaryDirectory(prefix="vsr-vs-opencv-") as tmp:
        work = Path(tmp)
        clip = work / f"{args.input.stem}_x{args.loop}.y4m"
        frames = write_y4m_clip(args.input, clip, loops=args.loop)
        cache = work / "cache"
        first_run_s = run_vsr(args.vsr, clip, work / "vsr.mp4", work / "report.json", cache)
        run_opencv(args.opencv_python, clip, args.opencv_model, work / "opencv.mp4")
        print(f"first runs (untimed for the medians): vsr {first_run_s:.2f} s, graph export included", file=sys.stderr, flush=True)
        vsr_s, cv_s, report = [], [], {}
        for i in range(args.repeats):
            vsr_s.append(run_vsr(args.vsr, clip, work / "vsr.mp4", work / "report.json", cache))
            report = json.loads((work / "report.json").read_text())
            seconds, cv_frames = run_opencv(args.opencv_python, clip, args.opencv_model, work / "opencv.mp4")
            cv_s.append(seconds)
            print(f"run {i + 1}/{args.repeats}: vsr {vsr_s[-1]:.2f} s, OpenCV {seconds:.2f} s", file=sys.stderr, flush=True)
    if cv_frames != frames or report["frames_out"] != frames:
        sys.exit(f"bench_vs_opencv: frame counts differ (clip {frames}, vsr {report['frames_out']}, OpenCV {cv_frames})")
    vsr_median, cv_median = statistics.median(vsr_s), statistics.median(cv_s)
    cv_version = subprocess.run([args.opencv_python, "-c", "import cv2; print(cv2.__version__)"], capture_output=True, text=True).stdout.strip()
    result = {
        "clip": f"{args.input.name} x{args.loop}", "frames": frames,
        "size_in": report["size_in"], "size_out": report["size_out"],
        "vsr": {"seconds": vsr_s, "median_s": vsr_median, "fps": frames / vsr_median, "report_line": report["line"],
                "first_run_s": first_run_s},
        "opencv": {"seconds": cv_s, "median_s": cv_median, "fps": frames / cv_median, "version": cv_version,
                   "job": "cv2.VideoCapture -> dnn_superres ESPCN x2 -> cv2.VideoWriter mp4v"},
        "vsr_speedup_over_opencv": cv_median / vsr_median,
        "note": ("end to end per fresh process (start-up and model loading included), medians of runs taken in turns, "
                 "after one untimed run of each (vsr's first run, graph export included, is first_run_s)"),
    }
    summary = (f"{result['clip']}, {frames} frames {report['size_in'][0]}x{report['size_in'][1]} -> "
               f"{report['size_out'][0]}x{report['size_out'][1]}: vsr {cv_median / vsr_median:.2f}x OpenCV")
    table = "\n".join([
        summary, "", "| job | median s | fps | runs (s) |", "|---|---:|---:|---|",
        f"| vsr | {vsr_median:.2f} | {frames / vsr_median:.1f} | {', '.join(f'{t:.2f}' for t in vsr_s)} |",
        f"| OpenCV {cv_version} | {cv_median:.2f} | {frames / cv_median:.1f} | {', '.join(f'{t:.2f}' for t in cv_s)} |",
        "", f"vsr: {report['line']}", "", result["note"],
    ]) + "\n"
    # write_report adds the machine (CPU model, family/model, vector ISA, bf16 flags, cores, library
    # versions): the host varies from run to run.
    json_path, md_path = write_report(result, out, script_command(), table)
    print(table)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
