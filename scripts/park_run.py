"""Park an unfinished training run's best weights in git, so the next machine continues from them.

    python scripts/park_run.py /root/vsr-runs/msrn_x2        # -> training/msrn_x2/

A session's machine does not outlive the session: a run that has not reached its shipping bar yet
is lost with it unless its weights are committed. This writes the run's best weights as fp16
(half the size; the next run trains in fp32 master weights from them) and its summary.json, with
the run's Set5 validation figure, into training/<model>_x<scale>/. Continue with

    vsr train --model msrn --scale 2 --init-weights training/msrn_x2/best.safetensors ...

and, once the continued run ships, name the parked runs oldest first with
``scripts/ship_weights.py --after training/msrn_x2`` so the manifest keeps the whole recipe.
Parked weights are not shipped: ``vsr upscale --model msrn`` does not load them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.models import load_model  # noqa: E402
from vsr.models.weights import read_weights, save_weights  # noqa: E402

PARKED_DIR = REPO / "training"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="training output folder (holds best.safetensors and summary.json)")
    parser.add_argument("--into", type=Path, default=PARKED_DIR, help="folder of parked runs (default: training/)")
    args = parser.parse_args()
    run = Path(args.run)
    summary_path = run / "summary.json"
    if not summary_path.exists():
        parser.error(f"{summary_path}: no summary (it is written when a vsr train invocation ends)")
    summary = json.loads(summary_path.read_text())
    cfg = summary["config"]
    _, header = read_weights(run / "best.safetensors")
    model = load_model(cfg["model"], cfg["scale"], weights=run / "best.safetensors")
    target = args.into / f"{cfg['model']}_x{cfg['scale']}"
    target.mkdir(parents=True, exist_ok=True)
    save_weights(model, target / "best.safetensors", half=True,
                 extra={"command": header.get("command", ""), "epoch": header.get("epoch", "")})
    shutil.copy(summary_path, target / "summary.json")
    print(f"parked {run} in {target}: best epoch {summary['best_epoch']} of {summary['epochs']}, "
          f"Set5 {summary['best_val_psnr']:.3f} dB (validation)")


if __name__ == "__main__":
    main()
