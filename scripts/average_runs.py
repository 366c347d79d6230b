"""Average the last weights of training runs that started from the same weights into a new run folder.

    python scripts/average_runs.py /root/vsr-runs/msrn_x4_i /root/vsr-runs/msrn_x4_j --out /root/vsr-runs/msrn_x4_ij

Runs fine-tuned from one starting point with different seeds (and so different patches) end in one
basin of the loss, and the mean of their weights generalises better than either (a uniform "model
soup", Wortsman et al., ICML 2022). Measured on MSRN x4: runs i and j, 800 steps each from run h
(B100 27.237), ended at 27.242 each; the mean of their last weights measured 27.247. Runs from
different starting points need not share a basin, so they are refused.

The output folder is one that scripts/park_run.py and scripts/ship_weights.py take like a run's:
best.safetensors (fp32, the mean), and a summary.json whose invocations are the runs' commands
followed by this one, so a shipped recipe lists every command that made the file, in order. The
averaged runs' own summaries are kept in it under "averaged_runs". The mean is validated as
vsr train validates an epoch (Y-PSNR on the runs' validation images).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.models import load_model  # noqa: E402
from vsr.errors import WeightsError  # noqa: E402
from vsr.files import write_json_atomically  # noqa: E402
from vsr.models.weights import save_weights  # noqa: E402
from vsr.training.data import load_pairs  # noqa: E402
from vsr.training.run_folder import BEST_WEIGHTS, LAST_WEIGHTS, SUMMARY  # noqa: E402
from vsr.training.validation import validate_psnr  # noqa: E402
from scripts.park_run import AVERAGED_RUNS, init_weights_path  # noqa: E402  (the run folder's format has one owner)


def finished_run(folder: Path) -> dict:
    """A run's summary, if the run finished its schedule (only then are its last weights its end)."""
    summary_path, last = folder / SUMMARY, folder / LAST_WEIGHTS
    if not summary_path.exists() or not last.exists():
        raise ValueError(f"{folder}: not a finished vsr train run (needs {SUMMARY} and {LAST_WEIGHTS})")
    return json.loads(summary_path.read_text())


def check_same_start(summaries: list[dict]) -> None:
    """Every run is the same model from the same starting weights, or the mean means nothing."""
    first = summaries[0]["config"]
    if init_weights_path(summaries[0]) is None:
        # Runs from scratch start from different random weights, one per seed: no common basin.
        raise ValueError(f"{first['out_dir']} started from scratch: only runs from the same --init-weights share a basin")
    for summary in summaries[1:]:
        cfg = summary["config"]
        for key in ("model", "scale", "model_config"):
            if cfg[key] != first[key]:
                raise ValueError(f"{cfg['out_dir']}: {key} {cfg[key]} differs from {first['out_dir']}'s {first[key]}")
        if init_weights_path(summary) != init_weights_path(summaries[0]):
            raise ValueError(f"{cfg['out_dir']} started from {cfg['init_weights']}, {first['out_dir']} from "
                             f"{first['init_weights']}: only runs from the same weights share a basin")


def mean_model(cfg: dict, paths: list[Path]):
    """The runs' weights, each loaded as the model the config names (so every file's header, config
    and tensor shapes are checked), averaged element-wise in fp32 in the order given, in one model."""
    models = [load_model(cfg["model"], cfg["scale"], weights=path) for path in paths]
    states = [model.state_dict() for model in models]
    models[0].load_state_dict({key: sum(state[key].float() for state in states) / len(states) for key in states[0]})
    return models[0]


def averaged_summary(summaries: list[dict], out_dir: Path, command: str, val_psnr: float) -> dict:
    """A run summary for the mean: its config is the first run's, naming this folder and command;
    its invocations, epochs and time are all the runs' together, then this command's."""
    first = summaries[0]
    train_dirs = list(dict.fromkeys(d for s in summaries for d in s["config"]["train_dirs"]))
    epochs = sum(s["epochs"] for s in summaries)
    invocations = [step for s in summaries for step in s["invocations"]]
    invocations.append({"command": command, "epochs": 0, "first_epoch": 1, "last_epoch": 0})
    return {
        "config": {**first["config"], "out_dir": str(out_dir), "command": command, "train_dirs": train_dirs, "seed": None},
        "best_val_psnr": val_psnr,
        "best_epoch": epochs,  # the mean of the runs' last epochs
        "epochs": epochs,
        "schedule_epochs": epochs,
        "invocations": invocations,
        "train_seconds": sum(s["train_seconds"] for s in summaries),
        "history": [],
        AVERAGED_RUNS: summaries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished vsr train output folders, started from the same weights")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the mean (best.safetensors, summary.json)")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("give at least two runs to average")
    if (args.out / SUMMARY).exists():
        parser.error(f"{args.out} already holds a run")
    try:
        summaries = [finished_run(folder) for folder in args.runs]
        check_same_start(summaries)
        cfg = summaries[0]["config"]
        model = mean_model(cfg, [folder / LAST_WEIGHTS for folder in args.runs])
    except (ValueError, WeightsError) as error:
        parser.error(str(error))
    val_psnr = validate_psnr(model, load_pairs(cfg["val_dirs"], cfg["scale"]), cfg["scale"])
    command = shlex.join(["python", "scripts/average_runs.py", *map(str, args.runs), "--out", str(args.out)])
    args.out.mkdir(parents=True, exist_ok=True)
    save_weights(model, args.out / BEST_WEIGHTS, extra={"command": command, "epoch": ""})
    summary = averaged_summary(summaries, args.out, command, val_psnr)
    write_json_atomically(args.out / SUMMARY, summary)
    last_epochs = ", ".join(f"{s['history'][-1]['val_psnr']:.3f}" for s in summaries)
    print(f"averaged {len(summaries)} runs into {args.out}: validation {val_psnr:.3f} dB (the runs' last epochs: {last_epochs})")


if __name__ == "__main__":
    main()
