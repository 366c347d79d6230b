"""``vsr train``: train a model and keep the best weights by validation PSNR."""
from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import ConfigError
from .common import MODEL_CHOICES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on HR images",
        description="Train ESPCN or MSRN on the Y channel of HR images. LR patches are made with the "
        "MATLAB-compatible bicubic. Each epoch writes OUT/checkpoint.pt (resumable) and, when "
        "validation PSNR improves, OUT/best.safetensors.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default="espcn", choices=MODEL_CHOICES)
    p.add_argument("--scale", type=int, default=3, choices=(2, 3, 4))
    p.add_argument("--train-dir", action="append", required=True, help="folder of HR training images (repeatable)")
    p.add_argument("--val-dir", action="append", required=True, help="folder of HR validation images (repeatable)")
    p.add_argument("--out", required=True, help="output folder for checkpoint, weights and logs")
    p.add_argument("--patch-size", type=int, default=17, help="LR patch side in pixels (HR patch is scale x larger)")
    p.add_argument("--context", type=int, default=0, metavar="PIXELS",
                   help="LR pixels of image around each patch, seen by the model but outside the loss, so that "
                   "no pixel is trained against a false border at the patch edge; use the model's receptive "
                   "radius (ESPCN: 4). 0 = plain patches")
    p.add_argument("--scale-augment", type=_factors, default=[], metavar="FACTORS",
                   help="also train on each image shrunk by each of these comma-separated factors, e.g. "
                   "0.9,0.8,0.7,0.6 (FSRCNN's scaling augmentation); none by default")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patches-per-epoch", type=int, default=32768)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--loss", choices=("l1", "mse"), default="l1")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--schedule", choices=("cosine", "step", "constant"), default="cosine",
                   help="learning-rate schedule; step = x0.1 at 80%% of the epochs (ESPCN paper)")
    p.add_argument("--paper-recipe", action="store_true",
                   help="ESPCN paper's recipe: last layer at 0.1x learning rate, step schedule, MSE loss")
    p.add_argument("--activation", choices=("tanh", "relu"), help="ESPCN activation (default tanh, as the paper)")
    p.add_argument("--border", choices=("replicate", "zeros"),
                   help="ESPCN: what the convolutions see beyond the frame's edge; replicate (default) extends the "
                   "frame with its edge pixels, zeros pads each layer with black as the first weights did")
    p.add_argument("--blocks", type=int, help="MSRN residual blocks (default 8)")
    p.add_argument("--init-weights", help="start from these weights where shapes fit (e.g. x2 weights for x3)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint.pt")
    p.add_argument("--stop-at", type=int, metavar="EPOCH",
                   help="end after this epoch, leaving a checkpoint for --resume; the learning-rate schedule still "
                   "spans --epochs (for long runs split across sessions)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="dtype of the convolutions under autocast (weights, optimiser, loss and validation stay fp32); "
                   "auto = bf16 on CPUs with AVX512-BF16/AMX and on CUDA, else fp32; fp16 (with a grad scaler) on CUDA only")
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _factors(text: str) -> list[float]:
    try:
        return [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from ..training import TrainConfig, train
    from ..training.precision import default_precision

    model_config = {}
    if args.activation:
        model_config["activation"] = args.activation
    if args.border or args.model == "espcn":
        model_config["border"] = args.border or "replicate"
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
        loss="mse" if args.paper_recipe else args.loss,
        optimizer=args.optimizer,
        schedule="step" if args.paper_recipe else args.schedule,
        last_layer_lr_scale=0.1 if args.paper_recipe else 1.0,
        model_config=model_config,
        context=args.context,
        scale_augment=args.scale_augment,
        init_weights=args.init_weights,
        seed=args.seed,
        device=args.device,
        precision=default_precision(args.device) if args.precision == "auto" else args.precision,
        workers=args.workers,
        threads=args.threads,
        command="vsr " + shlex.join(args.argv),
    )
    if args.stop_at is not None and args.stop_at < 1:
        raise ConfigError("--stop-at must be at least 1")
    summary = train(config, resume=args.resume, quiet=args.quiet, log=lambda line: print(line, file=sys.stderr), stop_at=args.stop_at)
    print(f"best validation PSNR {summary['best_val_psnr']:.3f} dB at epoch {summary['best_epoch']}; weights: {summary['config']['out_dir']}/best.safetensors")
    return 0

