"""Park an unfinished training run's best weights in git, so the next machine continues from them.

    python scripts/park_run.py /root/vsr-runs/msrn_x2        # -> training/msrn_x2/

A session's machine does not outlive the session: a run that has not reached its shipping bar yet
is lost with it unless its weights are committed. This writes the run's best weights as fp16
(half the size; the next run trains in fp32 master weights from them) and its summary.json, with
the run's Set5 validation figure, into training/<model>_x<scale>/. Continue with

    vsr train --model msrn --scale 2 --init-weights training/msrn_x2/best.safetensors ...

and park the continued run into the same folder: its weights replace the parked ones, and the
summary of the run it grew from moves into the folder's earlier.json (oldest first), so the folder
always holds the whole recipe from scratch. The mean of runs (scripts/average_runs.py) parks the same
way: it may replace a parked run that is one of its runs, or that its runs started from. Once a continued run ships,
``scripts/ship_weights.py RUN --after training/msrn_x2`` puts that recipe in the manifest.
Parked weights are not shipped: ``vsr upscale --model msrn`` does not load them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.files import write_atomically, write_json_atomically  # noqa: E402
from vsr.models import load_model  # noqa: E402
from vsr.models.weights import read_header, save_weights  # noqa: E402
from vsr.training.run_folder import BEST_WEIGHTS, SUMMARY  # noqa: E402  (a parked folder is laid out as a run's)

PARKED_DIR = REPO / "training"
EARLIER_FILE = "earlier.json"  # summaries of the runs the parked run grew from, oldest first
AVERAGED_RUNS = "averaged_runs"  # in the summary of a mean of runs (scripts/average_runs.py): their summaries


def recorded_runs(folder: Path) -> list[dict]:
    """Every run a parked (or plain run) folder records, oldest first: earlier.json's runs, then
    the folder's own summary.json, the run whose weights it holds."""
    earlier_path = folder / EARLIER_FILE
    earlier = json.loads(earlier_path.read_text()) if earlier_path.exists() else []
    return earlier + [json.loads((folder / SUMMARY).read_text())]


def same_run(summary: dict, other: dict) -> bool:
    """Two summaries of one run (parked at different epochs): a run is its output folder."""
    return summary["config"]["out_dir"] == other["config"]["out_dir"]


def recorded_path(path: str) -> Path:
    """A path a run's config holds, resolved: vsr train records --init-weights and --out as given,
    relative to where it ran, the repository here."""
    return (REPO / path).resolve()


def init_weights_path(summary: dict) -> Path | None:
    """The weights a run started from (--init-weights), resolved; None for a run from scratch."""
    init = summary["config"].get("init_weights")
    return recorded_path(init) if init else None


def earlier_runs(target: Path, summary: dict) -> list[dict]:
    """The runs a run grew from, oldest first, as the parked folder records them.

    Parking the same run again (later in its schedule) keeps the record as it is; a new run may
    replace the parked one only if it started from the parked weights, and the replaced run's
    summary then joins the record. Anything else would leave weights without their recipe."""
    if not (target / SUMMARY).exists():
        return []
    *earlier, parked = recorded_runs(target)
    if same_run(parked, summary):
        return earlier
    if any(same_run(parked, run) for run in summary.get(AVERAGED_RUNS, [])):
        return earlier  # a mean of the parked run and others: its own record holds the parked run's commands
    # The parked file is an fp16 copy of the parked run's best.safetensors: a run from either continues it.
    parked_weights = {(target / BEST_WEIGHTS).resolve(), recorded_path(parked["config"]["out_dir"]) / BEST_WEIGHTS}
    if init_weights_path(summary) not in parked_weights:
        init = summary["config"].get("init_weights")
        raise ValueError(f"{target} holds run {parked['config']['out_dir']}, which this run did not start from "
                         f"(--init-weights {init}); park it --into another folder")
    return earlier + [parked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="training output folder (holds best.safetensors and summary.json)")
    parser.add_argument("--into", type=Path, default=PARKED_DIR, help="folder of parked runs (default: training/)")
    args = parser.parse_args()
    run = Path(args.run)
    summary_path = run / SUMMARY
    if not summary_path.exists():
        parser.error(f"{summary_path}: no summary (it is written when a vsr train invocation ends)")
    summary = json.loads(summary_path.read_text())
    cfg = summary["config"]
    header, _ = read_header(run / BEST_WEIGHTS)  # its metadata only; load_model reads the tensors
    model = load_model(cfg["model"], cfg["scale"], weights=run / BEST_WEIGHTS)
    target = args.into / f"{cfg['model']}_x{cfg['scale']}"
    try:
        earlier = earlier_runs(target, summary)
    except ValueError as error:
        parser.error(str(error))
    target.mkdir(parents=True, exist_ok=True)
    save_weights(model, target / BEST_WEIGHTS, half=True,
                 extra={"command": header.get("command", ""), "epoch": header.get("epoch", "")})
    write_atomically(target / SUMMARY, summary_path.read_bytes())
    if earlier:
        write_json_atomically(target / EARLIER_FILE, earlier, indent=1)
    print(f"parked {run} in {target}: best epoch {summary['best_epoch']} of {summary['epochs']}, "
          f"Set5 {summary['best_val_psnr']:.3f} dB (validation)")


if __name__ == "__main__":
    main()
