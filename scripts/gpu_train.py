"""MSRN x2, then x3 and x4 from it, in one call on a lent GPU: a fixed time budget, sized by a probe.

The data travels packed (scripts/pack_luma.py: Y planes as grey PNGs, 31 MiB for T91 +
General100 + BSD200 + Set5), and vsr runs from the tree with the image's own torch, numpy,
Pillow and safetensors (training needs no PyAV). Prepared here, on the device machine:

    python scripts/gpu_train.py --data .pack --budget 360 --out "$OUT"
    python scripts/gpu_train.py --data .pack --budget 360 --out "$OUT" --init vsr/weights/msrn_x2.safetensors

1. a probe times training steps of MSRN at --batch-size, to size the schedules to the budget;
2. x2 trains for half the budget (from --init, a parked or shipped x2 file, when given);
3. x3 and x4 train side by side from x2's best for the other half: one small-batch run leaves
   most of a GPU idle, so two share it at little cost to either.

Each run is an ordinary ``vsr train`` command (recorded in its summary, so the recipe runs on a
CPU unchanged); OUT/msrn_xN/ receives its best weights in fp16 and summary.json, as
scripts/park_run.py writes them. The dry run on a CPU: ``--device cpu --budget 60 --probe-steps 2``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.files import write_json_atomically  # noqa: E402
from vsr.training.run_folder import BEST_WEIGHTS, SUMMARY  # noqa: E402

TRAIN_SETS = ("T91", "General100", "BSD200")
VALIDATION_SET = "Set5"
SECONDS_PER_EPOCH = 20  # validation and a new loader each epoch: short enough to pick a good best


def probe_steps_per_second(device: str, precision: str, batch: int, patch: int, steps: int) -> float:
    """Training steps per second of MSRN x2 on random patches, after two warm-up steps."""
    import torch

    from vsr.models import create_model
    from vsr.training.precision import Precision
    from vsr.training.trainer import train_step

    torch.backends.cudnn.benchmark = True
    model = create_model("msrn", 2).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    runner = Precision(precision, device)
    lr = torch.rand(batch, 1, patch, patch, device=device)
    hr = torch.rand(batch, 1, patch * 2, patch * 2, device=device)

    def step():
        train_step(model, runner, optimizer, "l1", lr, hr)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps / (time.perf_counter() - start)


def train_command(args, scale: int, seconds: float, steps_per_second: float, init: str | None, out: Path) -> list[str]:
    steps_per_epoch = max(1, round(SECONDS_PER_EPOCH * steps_per_second))
    epochs = max(1, round(seconds / (steps_per_epoch / steps_per_second)))
    command = [sys.executable, "-m", "vsr", "train", "--model", "msrn", "--scale", str(scale),
               "--device", args.device, "--precision", args.precision, "--batch-size", str(args.batch_size),
               "--patches-per-epoch", str(steps_per_epoch * args.batch_size), "--epochs", str(epochs),
               "--lr", str(args.lr), "--seed", str(40 + scale), "--workers", str(args.workers), "--quiet",
               "--out", str(out)]
    for name in TRAIN_SETS:
        command += ["--train-dir", str(args.data / name)]
    command += ["--val-dir", str(args.data / VALIDATION_SET)]
    if init:
        command += ["--init-weights", init]
    return command


def start(command: list[str], log: Path) -> subprocess.Popen:
    print("gpu_train: " + " ".join(command[1:]), flush=True)
    return subprocess.Popen(command, cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1",
                                 "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))})


def finish(process: subprocess.Popen, run: Path, log: Path, out: Path) -> dict:
    """Wait for a run, echo its log, park its best weights (fp16) and summary in OUT; its summary."""
    code = process.wait()
    print(log.read_text(), end="", flush=True)
    if code != 0:
        raise SystemExit(f"gpu_train: {run.name} failed with exit code {code}")
    subprocess.run([sys.executable, str(REPO / "scripts" / "park_run.py"), str(run), "--into", str(out)], check=True)
    return json.loads((run / SUMMARY).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help=f"packed folders {', '.join(TRAIN_SETS)}, {VALIDATION_SET}")
    parser.add_argument("--out", type=Path, required=True, help="where msrn_x{2,3,4}/ land (the device's $OUT)")
    parser.add_argument("--budget", type=float, default=360, help="seconds of training in all (default: 360; with start-up and data loading a call takes about 90 s more)")
    parser.add_argument("--init", help="x2 weights to start from (default: from scratch)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--workers", type=int, default=4, help="data-loader processes per run")
    parser.add_argument("--probe-steps", type=int, default=30)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/vsr-gpu-runs"), help="checkpoints (not sent back)")
    args = parser.parse_args()
    for name in (*TRAIN_SETS, VALIDATION_SET):
        if not (args.data / name).is_dir():
            parser.error(f"{args.data / name}: missing (pack it with scripts/pack_luma.py)")
    args.out.mkdir(parents=True, exist_ok=True)
    args.runs.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    rate = probe_steps_per_second(args.device, args.precision, args.batch_size, 48, args.probe_steps)
    print(f"gpu_train: probe: {rate:.2f} MSRN x2 steps/s at batch {args.batch_size} ({args.precision} on {args.device})", flush=True)

    x2_run = args.runs / "msrn_x2"
    x2 = finish(start(train_command(args, 2, args.budget / 2, rate, args.init, x2_run), args.runs / "x2.log"),
                x2_run, args.runs / "x2.log", args.out)
    best_x2 = str(args.out / "msrn_x2" / BEST_WEIGHTS)
    # Side by side, each run gets about half the GPU: each is sized at half the probed rate.
    pairs = []
    for scale in (3, 4):
        run = args.runs / f"msrn_x{scale}"
        log = args.runs / f"x{scale}.log"
        pairs.append((start(train_command(args, scale, args.budget / 2, rate / 2, best_x2, run), log), run, log))
    summaries = {2: x2} | {scale: finish(*pair, args.out) for scale, pair in zip((3, 4), pairs)}
    report = {f"x{scale}": {"best_epoch": s["best_epoch"], "epochs": s["epochs"], "set5_val_db": round(s["best_val_psnr"], 3),
                            "train_seconds": round(s["train_seconds"], 1)} for scale, s in summaries.items()}
    report["probe_steps_per_second"] = round(rate, 3)
    report["wall_seconds"] = round(time.perf_counter() - began, 1)
    write_json_atomically(args.out / "gpu_train.json", report)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
