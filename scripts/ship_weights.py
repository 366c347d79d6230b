"""Ship a training run's best weights: copy into vsr/weights/, measure, record in the manifest.

    python scripts/ship_weights.py runs/espcn_x3 [--half]
    python scripts/ship_weights.py runs/espcn_x3_mse --continues-shipped   # a run that started from the shipped file

Measures Set5 (our LR and MATLAB's LR images) and B100 with ``vsr.evaluation`` and writes the
manifest entry: file, model, scale, config, sha256, the exact ``vsr train`` command (from the
weights header), training data, epochs, training time, machine, and the figures.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vsr.backends import build_runner, make_backend  # noqa: E402
from vsr.evaluation import evaluate_folder  # noqa: E402
from vsr.models import load_model  # noqa: E402
from vsr.shipped import MANIFEST_PATH, WEIGHTS_DIR  # noqa: E402
from vsr.files import sha256_file, write_json_atomically  # noqa: E402
from vsr.training.run_folder import BEST_WEIGHTS, SUMMARY  # noqa: E402
from vsr.models.weights import read_header, save_weights  # noqa: E402
from vsr.sysinfo import cpu_model  # noqa: E402
from scripts.park_run import init_weights_path, recorded_runs, same_run  # noqa: E402  (the parked folder's format has one owner)

DATA = REPO.parent / "shared" / "data"


def measure(runner, scale: int) -> dict:
    figures = {}
    for name, hr, lr in (
        ("Set5", DATA / "eval" / "Set5", None),
        ("Set5_matlab_lr", DATA / "eval" / "matlab-lr" / "Set5" / f"x{scale}" / "HR", DATA / "eval" / "matlab-lr" / "Set5" / f"x{scale}" / "LR"),
        ("B100", DATA / "eval" / "B100", None),
    ):
        mean = evaluate_folder(hr, runner, lr_dir=lr)["mean"]
        figures[name] = {method: {k: round(v, 4) for k, v in m.items()} for method, m in mean.items()}
        print(f"  {name}: {mean['model']['psnr']:.3f} dB / {mean['model']['ssim']:.4f} (bicubic {mean['bicubic']['psnr']:.3f})")
    return figures


def run_commands(summary: dict) -> list[str]:
    """The ``vsr train`` commands that made a run, in order, each ending where it ended: a command
    interrupted before its schedule's end gets the ``--stop-at`` that reproduces that exactly."""
    invocations = summary.get("invocations") or [
        {"command": summary["config"]["command"], "epochs": summary["epochs"], "last_epoch": summary["epochs"]}
    ]
    commands = []
    for step in invocations:
        command = step["command"]
        if step["last_epoch"] < step["epochs"] and "--stop-at" not in command:
            command += f" --stop-at {step['last_epoch']}"
        commands.append(command)
    return commands


def earlier_runs_in(folder: Path, shipping: dict) -> list[dict]:
    """The runs an earlier run's folder records, oldest first (a parked folder also names the runs
    it grew from). A parked folder may hold the run being shipped itself, parked before it
    finished: that one is not earlier than itself."""
    runs = recorded_runs(folder)
    return runs[:-1] if same_run(runs[-1], shipping) else runs


def runs_of_shipped(training_json: Path) -> list[dict]:
    """The runs a shipped ``<model>_x<scale>.training.json`` records, oldest first: the runs it grew
    from, then its own."""
    if not training_json.exists():
        return []
    shipped = json.loads(training_json.read_text())
    own = {k: v for k, v in shipped.items() if k != "earlier_runs"}
    return shipped.get("earlier_runs", []) + [own]


def shipped_start(first_run: dict, entries: list[dict]) -> dict | None:
    """The shipped file a recipe's first command started from (``--init-weights vsr/weights/...``,
    e.g. MSRN x3 from the x2 weights), pinned by the sha256 the manifest holds for it now: the
    recipe reproduces only from that very file, which a later shipping may replace."""
    init = init_weights_path(first_run)
    if init is None or init.parent != WEIGHTS_DIR.resolve():
        return None
    entry = next((e for e in entries if e["file"] == init.name), None)
    if entry is None:
        raise SystemExit(f"the recipe starts from {first_run['config']['init_weights']}, which the manifest does not list")
    return {"file": entry["file"], "sha256": entry["sha256"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="training output folder (holds best.safetensors and summary.json)")
    parser.add_argument("--half", action="store_true", help="store fp16 (for big models such as MSRN)")
    parser.add_argument("--note", default="", help="free text kept in the entry")
    parser.add_argument("--after", action="append", default=[], metavar="RUN",
                        help="earlier run whose weights this run started from (repeatable, oldest first); a parked folder "
                        "(training/...) brings the runs it grew from too")
    parser.add_argument("--continues-shipped", action="store_true",
                        help="the run started from the weights shipped now (the output of the last command of their "
                        "recipe): keep that recipe, its epochs and its time at the front of the new entry's")
    args = parser.parse_args()
    run = Path(args.run)
    summary = json.loads((run / SUMMARY).read_text())
    header, _ = read_header(run / BEST_WEIGHTS)  # its metadata only; load_model reads the tensors
    cfg = summary["config"]
    model = load_model(cfg["model"], cfg["scale"], weights=run / BEST_WEIGHTS)
    file_name = f"{cfg['model']}_x{cfg['scale']}.safetensors"
    entries = json.loads(MANIFEST_PATH.read_text())["weights"] if MANIFEST_PATH.exists() else []
    shipped_before = next((e for e in entries if e["file"] == file_name), None)
    if args.continues_shipped and shipped_before is None:
        parser.error(f"--continues-shipped: no {file_name} in the manifest")
    # Every check on the record before the file is written: a refusal leaves vsr/weights as it was.
    earlier = [e for folder in args.after for e in earlier_runs_in(Path(folder), summary)]
    if args.continues_shipped:
        starts_from = shipped_before.get("starts_from")
    else:
        starts_from = shipped_start((earlier or [summary])[0], entries)
    save_weights(model, WEIGHTS_DIR / file_name, half=args.half, extra={"command": header.get("command", ""), "epoch": header.get("epoch", "")})
    shipped = load_model(cfg["model"], cfg["scale"], weights=WEIGHTS_DIR / file_name)
    print(f"{file_name}:")
    # fp32 as the published tables, on the fastest CPU engine here (ONNX Runtime; torch without it):
    # what `vsr eval` runs by default, so a user's run reproduces these figures.
    figures = measure(build_runner(shipped, make_backend("auto", device="cpu", precision="fp32")), cfg["scale"])
    recipe = [c for e in earlier for c in run_commands(e)] + run_commands(summary)
    before_seconds = sum(e["train_seconds"] for e in earlier)
    before_epochs = sum(e["epochs"] for e in earlier)
    if args.continues_shipped:
        recipe = shipped_before["recipe"] + recipe
        before_seconds += shipped_before["train_seconds"]
        before_epochs += shipped_before["total_epochs"]
    entry = {
        "file": file_name,
        "model": cfg["model"],
        "scale": cfg["scale"],
        "config": model.config,
        "sha256": sha256_file(WEIGHTS_DIR / file_name),
        "precision": "fp16" if args.half else "fp32",
        "train_precision": cfg.get("precision", "fp32"),  # autocast during training (bf16 on CPUs that have it)
        "command": recipe[-1],
        "recipe": recipe,  # every vsr train command from scratch to this file, in order
        **({"starts_from": starts_from} if starts_from else {}),  # the shipped file recipe[0] starts from
        "training_data": cfg["train_dirs"],
        "validation_data": cfg["val_dirs"],
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "patches_per_epoch": cfg["patches_per_epoch"],
        "train_seconds": round(summary["train_seconds"] + before_seconds, 1),
        "total_epochs": summary["epochs"] + before_epochs,
        "machine": f"{cpu_model()}, {cfg.get('threads') or 'all'} torch thread(s), device {cfg['device']}",
        "metrics": figures,
        "note": args.note,
    }
    entries = [e for e in entries if e["file"] != file_name] + [entry]
    entries.sort(key=lambda e: (e["model"], e["scale"]))
    write_json_atomically(MANIFEST_PATH, {"weights": entries})
    # The shipped run's summary, with those of the runs it grew from (oldest first): the whole curve
    # stays beside the file once the parked folder they came from is removed. A run continuing the
    # shipped file also keeps the runs that file's own record holds, which this write replaces.
    training_json = WEIGHTS_DIR / f"{cfg['model']}_x{cfg['scale']}.training.json"
    if args.continues_shipped:
        earlier = runs_of_shipped(training_json) + earlier
    training = {**summary, "earlier_runs": earlier} if earlier else summary
    write_json_atomically(training_json, training)
    print(f"recorded in {MANIFEST_PATH}")


if __name__ == "__main__":
    main()
