"""Speed of the super-resolution core on each backend, on the same frames in one run.

Rows (ESPCN x{scale} on the luma plane, fp32, ``--threads`` threads each):

- ``torch eager``: :class:`vsr.backends.TorchBackend` with NCHW activations;
- ``torch channels_last``: the same with NHWC activations (the torch backend's CPU default);
- ``onnxruntime``: :class:`vsr.backends.OnnxRuntimeBackend` (what ``--backend auto`` picks on a CPU);
- ``onnxruntime one session``: the same graph in one session whose threads split each operator,
  instead of single-threaded sessions side by side (:mod:`vsr.backends.side_by_side`);
- ``onnxruntime plain graph`` (x2 only): the same without the blocked sub-pixel rewrite
  (:mod:`vsr.backends.blocked_subpixel`), to show what the rewrite gains;
- ``onnxruntime zero border``: the same weights with ``border="zeros"`` (each layer pads with
  black, as the first weights did) instead of the edge-extended frame with valid convolutions:
  what the better border costs;
- ``onnxruntime tanh`` (or ``onnxruntime relu``): the same weights with the other activation,
  what ReLU (the shipped networks) and tanh (the paper's main model) cost against each other;
- ``opencv dnn_superres``: OpenCV's ``DnnSuperResImpl`` with its own ESPCN x2 (same layer sizes,
  ReLU for tanh), ``upsample()`` on the uint8 luma plane: what a user of OpenCV would call.

vsr rows go through :func:`vsr.backends.build_runner` (tiling, guards: what vsr itself runs), with
an output buffer reused across frames as the video pipeline does. Each figure is over ``--repeats``
timed bursts after a warm-up, each burst about 0.3 s of consecutive frames (at least one) as in a
video, the methods taking turns burst by burst (so a disturbance falls on all of them alike and the
ratios stay fair); ``fps`` is from the median burst, ``best_fps`` from the fastest, and
``gflops_per_cpu_s`` divides the work by the process's CPU time (not wall time), which tells the
kernels' efficiency per core even when other jobs share the machine (peak per core: peak / cores).
The peak is measured (numpy's SGEMM) unless ``--peak-gflops`` is given.

Effective GFLOP/s counts the convolutions' multiply-adds (2 FLOPs each) per LR pixel, counted from
the model itself (ESPCN x2: 2 x (25*64 + 64*32*9 + 32*4*9) = 42 368 FLOP per LR pixel), for every
row: the blocked graph multiplies some zeros on top, which count as overhead, not as work.

Usage::

    python bench/bench_backends.py [--sizes 352x288,1280x720,1920x1080] [--threads 2]
        [--repeats 5] [--peak-gflops GFLOPS] [--json bench/results/backends_<time>.json]
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.backends import OnnxRuntimeBackend, TorchBackend, build_runner, make_backend  # noqa: E402
from vsr.backends.blocked_subpixel import can_block  # noqa: E402
from vsr.benchmark.report import write_report  # noqa: E402
from vsr.models import create_model, load_model  # noqa: E402
from vsr.sizes import parse_size  # noqa: E402

OPENCV_MODELS = REPO.parent / "shared" / "data" / "models" / "opencv"


def conv_flops_per_lr_pixel(model: nn.Module, probe: int = 24) -> float:
    """FLOPs (2 per multiply-add) of every Conv2d, per input pixel, measured with forward hooks."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += 2 * output.numel() * k

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model(torch.zeros(1, 1, probe, probe))
    for h in hooks:
        h.remove()
    return total / (probe * probe)


def load_average() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


SETTLE_S = 0.2
BURST_S = 0.3


def time_round_robin(calls: dict, repeats: int) -> dict:
    """Time each of ``calls`` (label -> function) over ``repeats`` bursts, taking turns burst by
    burst, so that whatever else the machine does in the meantime falls on every method alike.

    A burst is consecutive calls lasting about ``BURST_S`` (at least one), as frames of a video
    follow each other: single calls after an idle pause would measure waking threads and cold
    caches, which a video pipeline pays once, not per frame.
    """
    burst = {}
    for label, call in calls.items():
        call()  # warm-up: first-touch of buffers, graph optimisation, oneDNN kernel choice
        w0 = time.perf_counter()
        call()
        burst[label] = max(1, round(BURST_S / (time.perf_counter() - w0)))
    walls = {label: [] for label in calls}
    cpus = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            # Let the previous method's worker threads stop spinning: libgomp (torch) and OpenCV's
            # pool spin-wait after a call, and would take cores from the next method's call.
            time.sleep(SETTLE_S)
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(burst[label]):
                call()
            walls[label].append((time.perf_counter() - w0) / burst[label])
            cpus[label].append((time.process_time() - c0) / burst[label])
    return {
        label: {"median_s": statistics.median(walls[label]), "best_s": min(walls[label]), "cpu_s": statistics.median(cpus[label]),
                "frames_per_burst": burst[label]}
        for label in calls
    }


def measured_sgemm_gflops() -> float:
    """The fp32 rate numpy's tuned GEMM (OpenBLAS, all cores) reaches here, 3072³, best of 5: the
    practical peak to compare convolutions with, measured rather than derived from a clock that
    this VM does not report (and torch's own GEMM is slower here)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((3072, 3072), dtype=np.float32), rng.random((3072, 3072), dtype=np.float32)
    a @ b
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 3072**3 / best / 1e9


def vsr_call(model, backend, frame: np.ndarray):
    """One frame through vsr's runner, into an output buffer reused across calls (as the pipeline does)."""
    runner = build_runner(model, backend)
    s = model.scale
    out = np.empty((1, s * frame.shape[0], s * frame.shape[1]), np.float32)
    batch = frame[None]
    return lambda: runner.run(batch, out=out)


def opencv_call(scale: int, threads: int, frames_u8: np.ndarray):
    """OpenCV's ``upsample`` on the uint8 frame, or (None, why not)."""
    try:
        import cv2

        sr = cv2.dnn_superres.DnnSuperResImpl_create()
    except (ImportError, AttributeError) as exc:
        return None, f"OpenCV dnn_superres not available ({exc}); pip install 'opencv-contrib-python-headless<5'"
    cv2.setNumThreads(threads)
    sr.readModel(str(OPENCV_MODELS / f"ESPCN_x{scale}.pb"))
    sr.setModel("espcn", scale)
    return (lambda: sr.upsample(frames_u8)), f"opencv-{cv2.__version__}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="352x288,1280x720,1920x1080", help="LR frame sizes WxH, comma-separated")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--peak-gflops", type=float,
                   help="the CPU's fp32 peak (default: measured, numpy's SGEMM on all cores)")
    p.add_argument("--weights", help="ESPCN weights (default: shipped, else a seeded random init: speed does not depend on them)")
    p.add_argument("--json", help="result file (default bench/results/backends_<time>.json)")
    args = p.parse_args(argv)
    peak_source = "given"
    if args.peak_gflops is None:
        args.peak_gflops, peak_source = measured_sgemm_gflops(), "measured: numpy SGEMM 3072^3, all cores"

    torch.manual_seed(0)
    try:
        model, weights = load_model("espcn", args.scale, args.weights), args.weights or "shipped"
    except Exception:
        model, weights = create_model("espcn", args.scale).eval(), "random init (seed 0)"
    flops = conv_flops_per_lr_pixel(model)
    auto = build_runner(model, make_backend("auto", threads=args.threads))
    methods = {
        "torch eager": TorchBackend(threads=args.threads, channels_last=False),
        "torch channels_last": TorchBackend(threads=args.threads, channels_last=True),
        "onnxruntime": OnnxRuntimeBackend(threads=args.threads),
    }
    if args.threads > 1:  # one session splitting each operator, instead of single-threaded sessions side by side
        methods["onnxruntime one session"] = OnnxRuntimeBackend(threads=args.threads, side_by_side=False)
    if can_block(model):  # the same runtime on the graph as exported before the rewrite, for its gain
        methods["onnxruntime plain graph"] = OnnxRuntimeBackend(threads=args.threads, block_subpixel=False)
    models = {label: model for label in methods}

    def variant(**change):
        """The same weights under another setting: what that setting costs, all else equal."""
        other = create_model("espcn", args.scale, **{**model.config, **change}).eval()
        other.load_state_dict(model.state_dict())
        return other

    if model.config["border"] != "zeros":
        models["onnxruntime zero border"] = variant(border="zeros")
        methods["onnxruntime zero border"] = OnnxRuntimeBackend(threads=args.threads)
    other_activation = {"relu": "tanh", "tanh": "relu"}[model.config["activation"]]
    models[f"onnxruntime {other_activation}"] = variant(activation=other_activation)
    methods[f"onnxruntime {other_activation}"] = OnnxRuntimeBackend(threads=args.threads)
    rng = np.random.default_rng(0)
    rows, load_before = [], load_average()
    for size in args.sizes.split(","):
        w, h = parse_size(size, "--sizes")
        # One frame per size, shared by every row: smooth content, like video luma.
        frame = np.clip(rng.normal(0.5, 0.15, (h // 8 + 1, w // 8 + 1)).repeat(8, 0).repeat(8, 1)[:h, :w], 0, 1).astype(np.float32)
        frame += rng.normal(0, 0.02, frame.shape).astype(np.float32)
        frame = np.clip(frame, 0, 1)
        frame_u8 = np.round(frame * 255).astype(np.uint8)
        calls = {label: vsr_call(models[label], backend, frame) for label, backend in methods.items()}
        opencv, note = opencv_call(args.scale, args.threads, frame_u8)
        if opencv is None:
            print(f"{size} opencv dnn_superres: skipped ({note})", file=sys.stderr)
        else:
            calls["opencv dnn_superres"] = opencv
        results = time_round_robin(calls, args.repeats)
        for label, t in results.items():
            gflop = flops * w * h / 1e9
            row = {
                "size": size,
                "method": label,
                "fps": 1 / t["median_s"],
                "best_fps": 1 / t["best_s"],
                "gflops": gflop / t["median_s"],
                "best_gflops": gflop / t["best_s"],
                "percent_of_peak": 100 * gflop / t["best_s"] / args.peak_gflops,
                "gflops_per_cpu_s": gflop / t["cpu_s"] if t["cpu_s"] > 0 else None,
                **t,
            }
            rows.append(row)
            print(f"{size:>10} {label:22} {row['fps']:7.2f} fps (best {row['best_fps']:7.2f})  {row['best_gflops']:6.1f} GFLOP/s best  "
                  f"{row['gflops_per_cpu_s'] or 0:6.1f} per CPU-s", file=sys.stderr, flush=True)
    load_after = load_average()

    def best(method, size, key="best_fps"):
        return next((r[key] for r in rows if r["method"] == method and r["size"] == size), None)

    default = {"torch": "torch channels_last"}.get(auto.name, auto.name)
    ratios = []
    for size in args.sizes.split(","):
        ort, eager, cv, dflt = best("onnxruntime", size), best("torch eager", size), best("opencv dnn_superres", size), best(default, size)
        ratios.append({
            "size": size,
            "onnxruntime_vs_torch_eager": ort / eager if ort and eager else None,
            "default_vs_opencv": dflt / cv if dflt and cv else None,
            "default_vs_opencv_median": (best(default, size, "fps") / best("opencv dnn_superres", size, "fps")) if dflt and cv else None,
            "blocked_vs_plain_graph": ort / plain if ort and (plain := best("onnxruntime plain graph", size)) else None,
            "replicate_vs_zero_border": ort / zero if ort and (zero := best("onnxruntime zero border", size)) else None,
            "relu_vs_tanh": relu_vs_tanh(ort, best(f"onnxruntime {other_activation}", size), model.config["activation"]),
        })
    report = {
        "model": f"espcn x{args.scale}",
        "weights": weights,
        "conv_flops_per_lr_pixel": flops,
        "threads": args.threads,
        "peak_gflops": args.peak_gflops,
        "peak_source": peak_source,
        "default_backend": auto.name,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "note": ("The machine was shared (1-minute load average above 0.5 before the run): wall-clock figures are "
                 "lower than on an idle machine; best_* is the least disturbed call and gflops_per_cpu_s the "
                 "per-core efficiency regardless of sharing.") if load_before[0] > 0.5 else
                "The machine was otherwise idle (1-minute load average at most 0.5 before the run).",
        "rows": rows,
        "ratios": ratios,
    }
    out = Path(args.json or REPO / "bench" / "results" / f"backends_{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json")
    command = "python bench/bench_backends.py " + " ".join(argv if argv is not None else sys.argv[1:])
    json_path, md_path = write_report(report, out, command.strip(), markdown(report))
    print(markdown(report))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


def relu_vs_tanh(ort_fps, other_fps, activation: str):
    """Speed of the ReLU network over the tanh one (same weights, ONNX Runtime), whichever ships."""
    if not ort_fps or not other_fps:
        return None
    return ort_fps / other_fps if activation == "relu" else other_fps / ort_fps


def markdown(report: dict) -> str:
    lines = [
        f"ESPCN ({report['model']}, weights: {report['weights']}), fp32, {report['threads']} threads; "
        f"{report['conv_flops_per_lr_pixel']:.0f} conv FLOP per LR pixel; peak {report['peak_gflops']:.0f} GFLOP/s "
        f"({report.get('peak_source', 'given')}). Default backend here: {report['default_backend']}. "
        f"Load average before/after: {report['load_average_before']} / {report['load_average_after']}.",
        "",
        "| LR size | method | fps (median) | fps (best) | GFLOP/s (best) | % of peak | GFLOP/s per CPU-second |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        per_cpu = f"{r['gflops_per_cpu_s']:.1f}" if r["gflops_per_cpu_s"] else "-"
        lines.append(f"| {r['size']} | {r['method']} | {r['fps']:.2f} | {r['best_fps']:.2f} | {r['best_gflops']:.1f} | {r['percent_of_peak']:.0f} % | {per_cpu} |")
    lines += ["", "| LR size | onnxruntime / torch eager | default / OpenCV dnn_superres (best; median) | blocked / plain graph (ORT) | edge-extended / zero border (ORT) | ReLU / tanh (ORT) |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in report["ratios"]:
        f = lambda v: f"{v:.2f}x" if v else "-"  # noqa: E731
        lines.append(f"| {r['size']} | {f(r['onnxruntime_vs_torch_eager'])} | {f(r['default_vs_opencv'])}; {f(r.get('default_vs_opencv_median'))} | {f(r.get('blocked_vs_plain_graph'))} | {f(r.get('replicate_vs_zero_border'))} | {f(r.get('relu_vs_tanh'))} |")
    lines += ["", report["note"], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
