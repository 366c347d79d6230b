"""``vsr eval``: PSNR/SSIM of a model and of bicubic on a folder of HR images."""
from __future__ import annotations

import argparse
import sys

from .common import HelpFormatter, add_backend_flags, add_model_flags, examples, runner_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="measure Y-PSNR/Y-SSIM against bicubic (published protocol)",
        description="Evaluate a model on HR images the way the published tables do: BT.601 Y channel, "
        "scale pixels shaved at each border, LR made by MATLAB-compatible bicubic (or read from --lr).",
        formatter_class=HelpFormatter,
        epilog=examples(
            ("vsr eval --hr DATA/eval/Set5 --scale 3", "the shipped ESPCN x3 beside bicubic on Set5 (Y-PSNR/SSIM per image and mean)"),
            ("vsr eval --hr HR/ --lr-dir LR/ --weights runs/x2/best.safetensors --scale 2", "your weights, on LR images made elsewhere"),
            ("vsr eval --hr HR/ --json eval.json", "the figures also as JSON"),
        ),
    )
    p.add_argument("--hr", required=True, metavar="DIR", help="folder of HR images")
    p.add_argument("--lr-dir", dest="lr", metavar="DIR", help="folder of LR images with the same names, e.g. MATLAB-made (default: made from --hr by MATLAB-compatible bicubic)")
    p.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    add_model_flags(p, default_scale=3)
    add_backend_flags(p, scoring=True)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_folder, format_table
    from ..files import write_json_atomically
    from ..sysinfo import machine_info

    runner = runner_from_args(args)
    result = evaluate_folder(args.hr, runner, lr_dir=args.lr)
    print(format_table(result, {"model": f"{args.model} x{args.scale}"}))
    if args.json:
        report = {
            "model": args.model,
            "scale": args.scale,
            "weights": args.weights or "shipped",
            "hr": args.hr,
            "lr": args.lr or "matlab-bicubic (vsr.imaging.resize)",
            "protocol": "Y BT.601 16-235, uint8, shave=scale",
            "command": "vsr " + " ".join(args.argv),
            "backend": {"name": runner.name, "device": runner.device, "precision": runner.precision},
            "machine": machine_info(),
            **result,
        }
        write_json_atomically(args.json, report)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
