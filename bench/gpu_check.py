"""Device check for a lent NVIDIA machine: one run, one JSON, well under 8 minutes of device time.

It runs the CUDA tests and measures what decides vsr's real-time claim on a GPU:

- ``tests``: the backend, frame-chain and frames-in-flight tests (CUDA ones included there);
- ``sr_core``: the model alone on a resident 1080p frame (fp16, bf16, fp32 without TF32, fp16 with
  CUDA graphs, fp16 with ``torch.compile``), frames per second;
- ``pcie``: bytes a frame moves each way on the chain path (integer planes) and on the float path,
  and the pinned copy bandwidth measured for them;
- ``chain``: the frame chain per frame (model + chroma + rounding on the device), alone and with
  frames in flight through pinned buffers and streams;
- ``e2e``: ``vsr upscale`` on a generated 1080p clip, x2 to 4K, with x264 ``veryfast`` and
  ``medium``, fps as the CLI reports it.

Every section records its own error or the reason it was skipped, so one failure costs one entry,
not the run. Without CUDA (the dry run on a CPU machine) the CPU parts run at small sizes and every
CUDA part is skipped with the reason. Usage (see bench/README.md, "GPU check")::

    python bench/gpu_check.py                      # JSON to $OUT/gpu_check.json, or bench/results/
    python bench/gpu_check.py --out result.json --quick
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.files import write_json_atomically  # noqa: E402  (stdlib only: light on the device too)

TEST_FILES = [
    "tests/test_backends_torch.py",
    "tests/test_backends_tensorrt.py",
    "tests/test_video_frame_chain.py",
    "tests/test_video_frames_in_flight.py",
    "tests/test_video_chain_pipeline.py",
]


def _section(results: dict, name: str, fn, *args) -> None:
    start = time.perf_counter()
    try:
        results[name] = fn(*args)
    except Exception as exc:  # one section's failure is one entry of the JSON, not the end of the run
        results[name] = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}
    results[name]["section_s"] = round(time.perf_counter() - start, 2)
    print(f"gpu_check: {name}: {json.dumps(results[name])[:300]}", file=sys.stderr, flush=True)


def environment() -> dict:
    import importlib.util

    import torch

    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "modules_missing": [m for m in ("av", "numpy", "safetensors", "tqdm", "onnx", "onnxruntime", "pytest") if importlib.util.find_spec(m) is None],
        "tensorrt": None,
    }
    try:
        import av

        info["av"] = av.__version__
    except ImportError:
        pass
    if importlib.util.find_spec("tensorrt") is not None:
        import tensorrt

        info["tensorrt"] = tensorrt.__version__
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, sm=f"{props.major}.{props.minor}", gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return info


def run_tests(timeout_s: int) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *TEST_FILES]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr.strip()[-300:]
    skipped = sorted({line.split(": ", 2)[-1] for line in lines if line.startswith("SKIPPED")})
    failed = [line for line in lines if line.startswith("FAILED")]
    return {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "summary": summary, "failed": failed, "skip_reasons": skipped}


def _model():
    from vsr.models import load_model

    return load_model("espcn", 2).eval()


def _time(fn, iters: int, sync) -> float:
    """Seconds per call, after warm-up, with the device drained around the timed loop."""
    for _ in range(3):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - start) / iters


def sr_core(cuda: bool, quick: bool) -> dict:
    import torch

    from vsr.backends import TorchBackend

    model = _model()
    if not cuda:
        x = torch.rand(1, 1, 270, 480)
        runner = TorchBackend(device="cpu").build(model)
        with torch.inference_mode():
            s = _time(lambda: runner.model(x.contiguous(memory_format=torch.channels_last)), 2, lambda: None)
        return {"cpu_fp32_480x270_fps": round(1 / s, 2), "cuda": "skipped: no CUDA GPU (torch.cuda.is_available() is False)"}
    x = torch.rand(1, 1, 1080, 1920, device="cuda")
    out = {}
    configs = [("fp16", {}), ("bf16", {}), ("fp32_no_tf32", {"precision": "fp32"}), ("fp16_cuda_graph", {"cuda_graph": True}), ("fp16_compile", {"compile": True})]
    iters = 20 if quick else 60
    for name, knobs in configs:
        precision = knobs.pop("precision", name.split("_")[0])
        try:
            runner = TorchBackend(device="cuda", precision=precision, **knobs).build(model)
            step = runner._compute if knobs.get("cuda_graph") else runner.device_forward
            with torch.inference_mode():
                s = _time(lambda: step(x), iters, torch.cuda.synchronize)
            out[f"{name}_1080p_fps"] = round(1 / s, 1)
        except Exception as exc:
            out[f"{name}_1080p_fps"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return out


def pcie(cuda: bool) -> dict:
    w, h, s = 1920, 1080, 2
    chain_in = w * h * 3 // 2  # 8-bit 4:2:0 planes
    chain_out = s * w * s * h * 3 // 2
    float_out = s * w * s * h * 4
    out = {
        "frame": f"{w}x{h} 8-bit 4:2:0, x{s}",
        "chain_bytes_h2d": chain_in,
        "chain_bytes_d2h": chain_out,
        "float_path_bytes_h2d": w * h * 4,  # float32 luma; chroma stays on the host
        "float_path_bytes_d2h": float_out,
        "ratio_float_to_chain": round((w * h * 4 + float_out) / (chain_in + chain_out), 2),
    }
    if not cuda:
        out["measured"] = "skipped: no CUDA GPU"
        return out
    import torch

    host = torch.empty(chain_out, dtype=torch.uint8, pin_memory=True)
    dev = torch.empty(chain_out, dtype=torch.uint8, device="cuda")
    up = _time(lambda: dev.copy_(host, non_blocking=True), 20, torch.cuda.synchronize)
    down = _time(lambda: host.copy_(dev, non_blocking=True), 20, torch.cuda.synchronize)
    out["pinned_h2d_gb_s"] = round(chain_out / up / 1e9, 1)
    out["pinned_d2h_gb_s"] = round(chain_out / down / 1e9, 1)
    out["chain_copy_ms_per_frame"] = round((chain_in / (chain_out / up) + down) * 1e3, 3)
    return out


def chain(cuda: bool, quick: bool) -> dict:
    import numpy as np
    import torch

    from vsr.backends import TorchBackend
    from vsr.video.chroma import ChromaUpscaler
    from vsr.video.frame_chain import FrameChain
    from vsr.video.frames import PixelLayout
    from vsr.video.frames_in_flight import FramesInFlight

    device = "cuda" if cuda else "cpu"
    w, h = (1920, 1080) if cuda else (320, 180)
    layout = PixelLayout(8, (1, 1))
    up = ChromaUpscaler(2, (1, 1), (1, 1))
    runner = TorchBackend(device=device, precision="fp16" if cuda else "fp32").build(_model())
    forward = runner.device_forward if cuda else runner.model
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    rng = np.random.default_rng(0)
    y = rng.integers(16, 236, (h, w), dtype=np.uint8)
    c = rng.integers(64, 192, (2, h // 2, w // 2), dtype=np.uint8)
    out = {"device": device, "frame": f"{w}x{h} 8-bit 4:2:0 x2", "model_precision": "fp16" if cuda else "fp32"}
    full = FrameChain(forward, 2, layout, layout, up, device)
    no_model = FrameChain(lambda x: torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"), 2, layout, layout, up, device)
    ty, tc = torch.from_numpy(y[None]).to(device), torch.from_numpy(c[None]).to(device)
    iters = 5 if not cuda else (20 if quick else 50)
    with torch.inference_mode():
        out["chain_resident_ms"] = round(_time(lambda: full(ty, tc), iters, sync) * 1e3, 3)
        out["chroma_and_rounding_only_ms"] = round(_time(lambda: no_model(ty, tc), iters, sync) * 1e3, 3)
    for depth in (1, 4):
        ring = FramesInFlight(full, depth=depth)
        (sh, sw), (ch, cw) = ring.output_shapes(h, w)
        ly, lc = np.empty((sh, sw), np.uint8), np.empty((2, ch, cw), np.uint8)
        frames = iters * 2
        start = time.perf_counter()
        for _ in range(frames):
            if ring.full:
                ring.collect(ly, lc)
            ring.submit(y, c)
        while len(ring):
            ring.collect(ly, lc)
        out[f"in_flight_depth{depth}_fps"] = round(frames / (time.perf_counter() - start), 1)
    if not cuda:
        out["cuda"] = "skipped: no CUDA GPU; the figures above are the CPU at 320x180"
    return out


def _make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"preset": "ultrafast", "crf": "12"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        yy, xx = np.mgrid[0:height, 0:width]
        rng = np.random.default_rng(0)
        for i in range(frames):
            luma = (128 + 80 * np.sin((xx + 4 * i) / 37.0) * np.cos((yy - 3 * i) / 23.0) + rng.normal(0, 6, (height, width))).clip(16, 235).astype(np.uint8)
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, data in zip(frame.planes, (luma, np.full((height // 2, width // 2), 128 + (i % 20), np.uint8), np.full((height // 2, width // 2), 120, np.uint8))):
                view = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                view[:, : data.shape[1]] = data
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def e2e(cuda: bool, quick: bool, work: Path) -> dict:
    w, h, n = (1920, 1080, 90 if not quick else 45) if cuda else (320, 180, 12)
    clip = _make_clip(work / f"clip_{w}x{h}.mp4", w, h, n)
    out = {"clip": f"{w}x{h}, {n} frames, x264 ultrafast crf 12 (generated)", "runs": {}}
    presets = ("veryfast", "medium") if cuda else ("veryfast",)
    for preset in presets:
        target = work / f"out_{preset}.mp4"
        cmd = [sys.executable, "-m", "vsr", "upscale", "-y", "--quiet", "--preset", preset, str(clip), str(target)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - start
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
        fps = re.search(r"([\d.]+) fps", last)
        out["runs"][preset] = {"returncode": proc.returncode, "wall_s": round(wall, 2), "cli_fps": float(fps.group(1)) if fps else None, "cli_line": last[:300]}
    if not cuda:
        out["cuda"] = "skipped: no CUDA GPU; the run above is the CPU at 320x180"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else REPO / "bench" / "results" / "gpu_check.json"
    parser.add_argument("--out", type=Path, default=default_out, help="JSON path (default: $OUT/gpu_check.json)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and frames")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--tests-timeout", type=int, default=240)
    args = parser.parse_args()

    import tempfile

    import torch

    cuda = torch.cuda.is_available()
    results: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _section(results, "environment", environment)
    if args.skip_tests:
        results["tests"] = {"skipped": "--skip-tests"}
    else:
        _section(results, "tests", run_tests, args.tests_timeout)
    _section(results, "sr_core", sr_core, cuda, args.quick)
    _section(results, "pcie", pcie, cuda)
    _section(results, "chain", chain, cuda, args.quick)
    with tempfile.TemporaryDirectory(prefix="vsr-gpu-check-") as work:
        _section(results, "e2e", e2e, cuda, args.quick, Path(work))
    results["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(args.out, results)
    print(f"gpu_check: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
