"""``vsr train``: train a model and keep the best weights by validation PSNR."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..errors import ConfigError
from .common import MODEL_CHOICES, HelpFormatter, examples

# The defaults: the recipe that made the shipped ESPCN weights (vsr/weights/manifest.json holds
# each file's exact commands). --paper-recipe swaps in the ESPCN paper's choices (Shi et al. 2016:
# tanh, MSE, 17-pixel patches, x0.1 at 80 % of the epochs, last layer at 0.1x learning rate);
# a flag given on the command line wins over either.
SHIPPED_RECIPE = {
    "patch_size": 16, "context": 4, "scale_augment": [0.9, 0.8, 0.7, 0.6], "batch_size": 32, "epochs": 400,
    "patches_per_epoch": 16384, "lr": 1e-3, "loss": "mse", "optimizer": "adam", "schedule": "cosine",
    "activation": "relu", "border": "replicate",
}
PAPER_RECIPE = {**SHIPPED_RECIPE, "patch_size": 17, "context": 0, "scale_augment": [], "schedule": "step", "activation": "tanh"}
# MSRN's defaults: the MSRN paper's choices (Li et al. 2018: L1, Adam, 48-pixel LR patches, batch 16)
# with the learning rate and schedule of vsr's own MSRN runs, which are short on a CPU (bf16 steps
# of ~3 s on 2 cores): a higher starting rate, decayed by a cosine over the run.
MSRN_RECIPE = {
    "patch_size": 48, "context": 0, "scale_augment": [], "batch_size": 16, "epochs": 12,
    "patches_per_epoch": 1600, "lr": 3e-4, "loss": "l1", "optimizer": "adam", "schedule": "cosine",
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on HR images",
        description="Train ESPCN or MSRN on the Y channel of HR images. LR patches are made with the "
        "MATLAB-compatible bicubic. Each epoch writes OUT/checkpoint.pt (resumable) and, when "
        "validation PSNR improves, OUT/best.safetensors. The defaults are the recipe of the shipped ESPCN "
        "weights (ReLU, replicated border, MSE, 16-pixel patches with 4 pixels of context, scale augmentation "
        "0.9-0.6, batch 32, 16384 patches per epoch, Adam at 1e-3 with a cosine schedule, 400 epochs); "
        "--paper-recipe gives the ESPCN paper's instead. With --model msrn the defaults are MSRN's own (L1, 48-pixel "
        "patches, batch 16, Adam at 3e-4 with a cosine schedule; --precision auto trains in bf16 where the CPU runs it faster).",
        formatter_class=HelpFormatter,
        epilog=examples(
            ("vsr train --scale 2 --train-dir T91 --train-dir BSD200 --val-dir Set5 --out runs/x2",
             "the shipped ESPCN x2 weights' recipe (400 epochs)"),
            ("vsr train --scale 3 --train-dir T91 --val-dir Set5 --out runs/paper --paper-recipe", "the ESPCN paper's recipe"),
            ("vsr train --scale 4 --init-weights runs/x2/best.safetensors --train-dir T91 --val-dir Set5 --out runs/x4",
             "x4 started from x2 weights"),
            ("vsr train --resume runs/x2/checkpoint.pt", "continue a stopped run exactly (its data, folder and recipe are in the checkpoint)"),
            ("vsr train --resume runs/x2/checkpoint.pt --epochs 30", "continue it with a longer schedule"),
            ("vsr upscale in.mp4 out.mp4 --scale 2 --weights runs/x2/best.safetensors", "use the result"),
        ),
    )
    p.add_argument("--model", default="espcn", choices=MODEL_CHOICES, help="network to train")
    p.add_argument("--scale", type=int, default=3, choices=(2, 3, 4), help="upscaling factor")
    p.add_argument("--train-dir", action="append", metavar="DIR", help="folder of HR training images (repeatable; required unless --resume)")
    p.add_argument("--val-dir", action="append", metavar="DIR", help="folder of HR validation images (repeatable; required unless --resume)")
    p.add_argument("--out", metavar="DIR", help="output folder for checkpoint, weights and logs (required unless --resume)")
    p.add_argument("--patch-size", type=int, metavar="PIXELS",
                   help="LR patch side in pixels; the HR patch is scale x larger (default: 16; paper recipe: 17; msrn: 48)")
    p.add_argument("--context", type=int, metavar="PIXELS",
                   help="LR pixels of image around each patch, seen by the model but outside the loss, so that "
                   "no pixel is trained against a false border at the patch edge; use the model's receptive "
                   "radius (ESPCN: 4). 0 = plain patches (default: 4; paper recipe and msrn: 0)")
    p.add_argument("--scale-augment", type=_factors, metavar="FACTORS",
                   help="also train on each image shrunk by each of these comma-separated factors (FSRCNN's scaling "
                   "augmentation); 'none' for none (default: 0.9,0.8,0.7,0.6; paper recipe and msrn: none)")
    p.add_argument("--phase-augment", action="store_true",
                   help="train on each image cropped from every offset below the scale (scale² pairs per image), so "
                   "the LR grid samples the scene at every sub-pixel phase: more distinct LR images of the same content, "
                   "for a network large enough to learn a small training set by heart (default: off)")
    p.add_argument("--batch-size", type=int, metavar="N", help="patches per step (default: 32; msrn: 16)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs of the learning-rate schedule (default: 400; msrn: 12)")
    p.add_argument("--patches-per-epoch", type=int, metavar="N", help="patches drawn per epoch (default: 16384; msrn: 1600)")
    p.add_argument("--lr", type=float, metavar="RATE", help="learning rate of the optimiser at the start of the schedule (default: 1e-3; msrn: 3e-4)")
    p.add_argument("--loss", choices=("l1", "mse"), help="training loss (default: mse; msrn: l1)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), help="optimiser (default: adam)")
    p.add_argument("--schedule", choices=("cosine", "step", "constant"),
                   help="learning-rate schedule; step = x0.1 at 80%% of the epochs (default: cosine; paper recipe: step)")
    p.add_argument("--paper-recipe", action="store_true",
                   help="the ESPCN paper's recipe instead of the shipped weights': tanh, 17-pixel patches without context "
                   "or scale augmentation, step schedule, last layer at 0.1x learning rate (flags given still win)")
    p.add_argument("--activation", choices=("tanh", "relu"), help="ESPCN activation (default: relu; paper recipe: tanh)")
    p.add_argument("--border", choices=("replicate", "zeros"),
                   help="ESPCN: what the convolutions see beyond the frame's edge; replicate extends the "
                   "frame with its edge pixels, zeros pads each layer with black as the first weights did (default: replicate)")
    p.add_argument("--blocks", type=int, metavar="N", help="MSRN residual blocks (default: 8)")
    p.add_argument("--init-weights", metavar="PATH", help="start from these weights where shapes fit (e.g. x2 weights for x3)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from its checkpoint.pt: its own data, output folder and recipe; only --epochs "
                   "(a longer or shorter schedule), --stop-at, --workers and --threads may change")
    p.add_argument("--stop-at", type=int, metavar="EPOCH",
                   help="end after this epoch, leaving a checkpoint for --resume; the learning-rate schedule still "
                   "spans --epochs (for long runs split across sessions)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="dtype of the convolutions under autocast (weights, optimiser, loss and validation stay fp32); "
                   "auto = bf16 on CUDA and on CPUs where it is faster (AMX; AVX512-BF16 where a short probe measures it so), else fp32; fp16 (with a grad scaler) on CUDA only")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="data-loader worker processes (0: in the training process)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's, one per core)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of the patch plan")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # Every flag's default, as parsed: a resumed run refuses the ones given otherwise.
    p.set_defaults(handler=run, run_flag_defaults={a.dest: a.default for a in p._actions if a.dest != "help"})


def _factors(text: str) -> list[float]:
    if text.strip().lower() == "none":
        return []
    try:
        return [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from ..report import Reporter
    from ..training import TrainConfig
    from ..training.precision import default_precision

    if args.resume:
        return _resume(args)
    missing = [flag for flag, value in (("--train-dir", args.train_dir), ("--val-dir", args.val_dir), ("--out", args.out)) if not value]
    if missing:
        raise ConfigError(f"{', '.join(missing)} required (or --resume CHECKPOINT to continue a run)")
    if args.model == "msrn":
        if args.paper_recipe:
            raise ConfigError("--paper-recipe is the ESPCN paper's recipe; MSRN's defaults already follow its own paper")
        recipe = MSRN_RECIPE
    else:
        recipe = PAPER_RECIPE if args.paper_recipe else SHIPPED_RECIPE
    for name, value in recipe.items():
        if getattr(args, name) is None:  # not given: the recipe's (activation and border: ESPCN only)
            if name not in ("activation", "border") or args.model == "espcn":
                setattr(args, name, value)
    model_config = {}
    if args.activation:
        model_config["activation"] = args.activation
    if args.border:
        model_config["border"] = args.border
    if args.blocks:
        model_config["blocks"] = args.blocks
    config = TrainConfig(
        model=args.model,
        scale=args.scale,
        train_dirs=args.train_dir,
        val_dirs=args.val_dir,
        out_dir=args.out,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patches_per_epoch=args.patches_per_epoch,
        lr=args.lr,
        loss=args.loss,
        optimizer=args.optimizer,
        schedule=args.schedule,
        last_layer_lr_scale=0.1 if args.paper_recipe else 1.0,
        model_config=model_config,
        context=args.context,
        scale_augment=args.scale_augment,
        phase_augment=args.phase_augment,
        init_weights=args.init_weights,
        seed=args.seed,
        device=args.device,
        precision=default_precision(args.device) if args.precision == "auto" else args.precision,
        workers=args.workers,
        threads=args.threads,
        command="vsr " + shlex.join(args.argv),
    )
    return _train(args, config, Reporter(quiet=args.quiet))


# What a resumed run takes from the command line; everything else comes from its checkpoint.
_RESUME_FLAGS = {"epochs", "stop_at", "workers", "threads", "quiet", "resume"}


def _resume(args: argparse.Namespace) -> int:
    from ..report import Reporter
    from ..training import TrainConfig

    reporter = Reporter(quiet=args.quiet)
    # Said, not refused: commands recorded in shipped recipes gave the folders again on resume.
    ignored = [f"--{name.replace('_', '-')}" for name, value in vars(args).items()
               if name not in _RESUME_FLAGS and name in args.run_flag_defaults and value != args.run_flag_defaults[name]]
    if ignored:
        reporter.note(f"ignored with --resume: {', '.join(ignored)} (a resumed run keeps its own; only --epochs, --stop-at, --workers and --threads change)")
    # epochs None: the checkpoint's own schedule.
    config = TrainConfig(model="", scale=0, train_dirs=[], val_dirs=[], out_dir="", epochs=args.epochs,
                         workers=args.workers, threads=args.threads, command="vsr " + shlex.join(args.argv))
    return _train(args, config, reporter)


def _train(args: argparse.Namespace, config, reporter) -> int:
    from ..training import train
    from ..training.run_folder import BEST_WEIGHTS

    if args.stop_at is not None and args.stop_at < 1:
        raise ConfigError("--stop-at must be at least 1")
    summary = train(config, resume=args.resume, log=reporter.note, stop_at=args.stop_at,
                    progress=lambda total, desc: reporter.progress(total, unit="patch", desc=desc))
    print(f"best validation PSNR {summary['best_val_psnr']:.3f} dB at epoch {summary['best_epoch']}; weights: {Path(summary['config']['out_dir']) / BEST_WEIGHTS}")
    return 0

