"""The CPU engines side by side: speed per frame and what each does to the picture.

For one model and scale, each CPU runner vsr can build (ONNX Runtime fp32 as ``auto`` builds it,
OpenVINO fp32, OpenVINO bf16 where the CPU has bf16 instructions, torch bf16 for reference) is
timed on a resident frame of each ``--size`` (median of ``--repeats`` calls after warm-ups, in
turns so that a disturbance falls on all alike), and scored on ``--hr`` (Set5 by default) with the
published protocol: Y-PSNR, and the share of 8-bit output codes that differ from ONNX Runtime fp32's.

Usage::

    python bench/bench_cpu_engines.py --hr ../shared/data/eval/Set5 [--model espcn] [--scale 2]
        [--size 352x288 --size 1920x1080] [--repeats 15] [--json bench/results/cpu_engines_x2.json]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vsr import sysinfo  # noqa: E402
from vsr.backends import OnnxRuntimeBackend, OpenVinoBackend, TorchBackend, bf16_speed, build_runner  # noqa: E402
from vsr.evaluation import model_method, protocol_pairs  # noqa: E402
from vsr.benchmark.report import script_command, write_report  # noqa: E402
from vsr.imaging.metrics import psnr_y  # noqa: E402
from vsr.models import load_model  # noqa: E402
from vsr.sizes import parse_size  # noqa: E402


def engines(bf16: bool) -> dict:
    found = {
        "onnxruntime fp32": OnnxRuntimeBackend(),
        "openvino fp32": OpenVinoBackend(precision="fp32"),
    }
    if bf16:
        found["openvino bf16"] = OpenVinoBackend(precision="bf16")
        found["torch bf16"] = TorchBackend(precision="bf16")
    return found


def time_calls(runners: dict, frame: np.ndarray, repeats: int, warmup: int = 3) -> dict:
    out = np.empty((1, frame.shape[1] * 2, frame.shape[2] * 2), np.float32)
    times = {name: [] for name in runners}
    for name, runner in runners.items():
        out = np.empty((1, frame.shape[1] * runner.scale, frame.shape[2] * runner.scale), np.float32)
        for _ in range(warmup):
            runner.run(frame, out=out)
    for _ in range(repeats):
        for name, runner in runners.items():
            out = np.empty((1, frame.shape[1] * runner.scale, frame.shape[2] * runner.scale), np.float32)
            start = time.perf_counter()
            runner.run(frame, out=out)
            times[name].append(time.perf_counter() - start)
    return {name: {"median_ms": 1000 * statistics.median(t), "best_ms": 1000 * min(t)} for name, t in times.items()}


def score(runners: dict, hr: str, scale: int) -> dict:
    pairs = list(protocol_pairs(hr, scale))
    outputs = {name: [model_method(runner)(p.lr_rgb, scale) for p in pairs] for name, runner in runners.items()}
    reference = outputs["onnxruntime fp32"]
    result = {}
    for name, images in outputs.items():
        diffs = np.concatenate([np.abs(a.astype(int) - b.astype(int)).ravel() for a, b in zip(images, reference)])
        result[name] = {
            "psnr_db": float(np.mean([psnr_y(img, p.hr_y, shave=scale) for img, p in zip(images, pairs)])),
            "codes_changed": float((diffs > 0).mean()),
            "max_code_change": int(diffs.max()),
        }
    return result


def markdown(report: dict) -> str:
    sizes = list(report["speed"])
    head = "| engine | " + " | ".join(f"{s} ms (best)" for s in sizes) + " | × ORT fp32 | Y-PSNR dB | codes changed (max) |"
    lines = [f"{report['model']} ×{report['scale']}, {report['threads']} threads; CPU flags: {', '.join(report['cpu_flags']) or 'none of note'}", "", head,
             "|" + "---|" * (len(sizes) + 4)]
    for name in report["quality"]:
        cells = [f"{report['speed'][s][name]['median_ms']:.1f} ({report['speed'][s][name]['best_ms']:.1f})" for s in sizes]
        ratio = report["speed"][sizes[0]]["onnxruntime fp32"]["median_ms"] / report["speed"][sizes[0]][name]["median_ms"]
        q = report["quality"][name]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f}× | {q['psnr_db']:.3f} | {100 * q['codes_changed']:.1f} % ({q['max_code_change']}) |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hr", required=True, help="HR images to score on (Set5)")
    p.add_argument("--model", default="espcn")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--size", action="append", help="LR frame size WxH (repeatable; default 352x288)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--json", help="write the report here (and a .md table beside it)")
    args = p.parse_args()
    model = load_model(args.model, args.scale, None)
    bf16 = bf16_speed.cpu_has_bf16()  # bf16 engines are timed wherever they can run, to see whether they pay
    runners = {name: build_runner(model, backend) for name, backend in engines(bf16).items()}
    for name, runner in runners.items():
        assert runner.precision == name.split()[-1], (name, runner.precision)
    speed = {}
    for text in args.size or ["352x288"]:
        w, h = parse_size(text)
        frame = np.random.default_rng(0).random((1, h, w), dtype=np.float32)
        speed[text] = time_calls(runners, frame, args.repeats)
    report = {
        "benchmark": "cpu_engines", "model": args.model, "scale": args.scale, "threads": sysinfo.usable_cores(),
        "repeats": args.repeats, "cpu_has_bf16_instructions": bf16,
        # What auto decides from: the probe's fp32/bf16 time ratio (None where the flags decide).
        "bf16_probe_speedup": bf16_speed.cached_bf16_speedup() if bf16_speed.verdict_by_flags() is None else None,
        "auto_takes_bf16": bf16_speed.bf16_pays(), "speed": speed,
        "quality": score(runners, args.hr, args.scale),
        "cpu_flags": sorted(sysinfo.cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni"}),
    }
    table = markdown(report)
    print(table)
    if args.json:
        for path in write_report(report, args.json, script_command(), table):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
