"""Where the ONNX Runtime CPU time of ESPCN goes, operator by operator.

Runs the graph vsr exports (the same cached ONNX file ``--backend onnxruntime`` uses) with ORT's
profiler on one LR size and prints, per operator, its time, its FLOPs and its effective GFLOP/s
against this CPU's fp32 peak. It answers "why is the SR core at ~75 % of peak and not 80+": the
large 3x3 convolution is near peak, while the 1-channel 5x5 first layer, the last layer's few
output channels (padded to ORT's 8-channel blocks) and the pixel shuffle run far below it.

Usage::

    python bench/profile_onnxruntime.py [--scale 2] [--size 352x288] [--threads 2] [--calls 20]
        [--peak-gflops 190] [--json bench/results/ort_profile_x2_352x288.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch.nn as nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.backends.blocked_subpixel import can_block  # noqa: E402
from vsr.backends.onnx_export import DEFAULT_OPSET, INPUT_NAME, cached_onnx  # noqa: E402
from vsr.benchmark.report import script_command, write_report  # noqa: E402
from vsr.models import load_model  # noqa: E402
from vsr.sizes import parse_size  # noqa: E402


def conv_flops(model: nn.Module, height: int, width: int) -> list[float]:
    """FLOPs (2 per multiply-add) of each Conv2d in order, for one LR frame (padding keeps the size)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return [2.0 * height * width * m.out_channels * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups for m in convs]


def profile(onnx_path: Path, height: int, width: int, threads: int, calls: int) -> tuple[float, list[dict]]:
    """Median ms per call over ``calls`` and each operator's median kernel time, slowest first."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    frame = np.random.default_rng(0).random((1, 1, height, width), dtype=np.float32)
    for _ in range(3):  # warm-up: first calls allocate and pack weights
        session.run(None, {INPUT_NAME: frame})
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        session.run(None, {INPUT_NAME: frame})
        times.append(time.perf_counter() - start)
    events = json.loads(Path(session.end_profiling()).read_text())
    durations: dict[tuple[str, str], list[float]] = {}
    for event in events:  # in time order: each node's first 3 are the warm-up calls
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            key = (event["name"].removesuffix("_kernel_time"), event["args"].get("op_name", ""))
            durations.setdefault(key, []).append(event["dur"])
    ops = [{"node": node, "op": op, "ms": float(np.median(us[3:])) / 1000} for (node, op), us in durations.items()]
    ops.sort(key=lambda o: -o["ms"])
    return float(np.median(times) * 1000), ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=2, choices=(2, 3, 4))
    parser.add_argument("--size", default="352x288", help="LR frame WIDTHxHEIGHT")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--peak-gflops", type=float, default=190.0, help="this CPU's fp32 peak (2 Zen 3 cores, AVX2 FMA: 190)")
    parser.add_argument("--plain-graph", action="store_true",
                        help="profile the graph without the blocked sub-pixel rewrite (vsr.backends.blocked_subpixel)")
    parser.add_argument("--json", help="write JSON (and Markdown beside it) here")
    args = parser.parse_args()
    width, height = parse_size(args.size)

    import onnxruntime as ort

    model = load_model("espcn", args.scale)
    blocked = can_block(model) and not args.plain_graph  # what the onnxruntime backend runs on a CPU
    onnx_path, _ = cached_onnx(model, DEFAULT_OPSET, f"onnxruntime-{ort.__version__}", None, blocked)
    median_ms, ops = profile(onnx_path, height, width, args.threads, args.calls)
    flops = conv_flops(model, height, width)
    # ORT names a fused Conv node after its activation's output, so order, not name, pairs the
    # convolutions with the model's layers: the Conv rows in graph order are the Conv2d in order.
    conv_rows = sorted((o for o in ops if o["op"] == "Conv"), key=lambda o: _graph_rank(o["node"]))
    for row, f in zip(conv_rows, flops):
        row["gflop"] = f / 1e9
        row["gflops_per_s"] = f / 1e9 / (row["ms"] / 1000)
        row["peak_share"] = row["gflops_per_s"] / args.peak_gflops
    total_flops = sum(flops)
    report = {
        "model": f"espcn x{args.scale}",
        "graph": "blocked sub-pixel" if blocked else "plain",
        "lr_size": [width, height],
        "threads": args.threads,
        "onnxruntime": ort.__version__,
        "median_ms_per_frame": median_ms,
        "gflops_per_s": total_flops / 1e9 / (median_ms / 1000),
        "peak_gflops": args.peak_gflops,
        "operators": ops,
    }
    lines = [
        f"ESPCN x{args.scale} ({report['graph']} graph), LR {width}x{height}, ONNX Runtime {ort.__version__}, {args.threads} threads: "
        f"{median_ms:.2f} ms per frame (median of {args.calls}), {report['gflops_per_s']:.1f} GFLOP/s "
        f"= {report['gflops_per_s'] / args.peak_gflops:.0%} of the {args.peak_gflops:.0f} GFLOP/s peak.",
        "",
        "| operator (ORT node) | op | ms per frame | share | GFLOP | GFLOP/s | % of peak |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    profiled = sum(o["ms"] for o in ops)
    for o in ops:
        gflop = f"{o['gflop']:.3f}" if "gflop" in o else "–"
        rate = f"{o['gflops_per_s']:.0f}" if "gflop" in o else "–"
        share = f"{o['peak_share']:.0%}" if "gflop" in o else "–"
        lines.append(f"| `{o['node']}` | {o['op']} | {o['ms']:.2f} | {o['ms'] / profiled:.0%} | {gflop} | {rate} | {share} |")
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    if args.json:
        for path in write_report(report, args.json, script_command(), markdown):
            print(f"wrote {path}")


def _graph_rank(node_name: str) -> tuple:
    """Sort key putting ESPCN's layers in graph order: feature_maps.N before sub_pixel."""
    if "sub_pixel" in node_name or "blocked" in node_name:
        return (1, 0)
    digits = [int(part) for part in node_name.replace("/", ".").split(".") if part.isdigit()]
    return (0, digits[0] if digits else 0)


if __name__ == "__main__":
    main()
