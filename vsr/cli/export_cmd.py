"""``vsr export``: write a model as an ONNX graph, or build its TensorRT engine ahead of time."""
from __future__ import annotations

import argparse
import shutil
import sys

from ..sizes import parse_size
from .common import HelpFormatter, add_model_flags, examples


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX or a TensorRT engine",
        description="Write the model as ONNX (dynamic batch, height and width; input x (N,1,H,W) float32 "
        "luma in [0,1], output y (N,1,sH,sW)), or build the TensorRT engine for frames up to --size, "
        "which also lands in the engine cache so `vsr upscale` starts at once.",
        formatter_class=HelpFormatter,
        epilog=examples(
            ("vsr export --format onnx --scale 3", "espcn_x3.onnx from the shipped weights"),
            ("vsr export --format onnx --weights runs/x2/best.safetensors --scale 2 --out mine.onnx", "your weights"),
            ("vsr export --format tensorrt --size 1920x1080", "the fp16 engine for frames up to 1080p (needs TensorRT and a GPU)"),
        ),
    )
    p.add_argument("--format", required=True, choices=("onnx", "tensorrt"), help="what to write")
    p.add_argument("--out", metavar="FILE", help="output file (default: MODEL_xSCALE.onnx or MODEL_xSCALE_WxH_PRECISION.engine)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    t = p.add_argument_group("tensorrt")
    t.add_argument("--size", default="1920x1080", metavar="WxH", help="largest LR frame the engine takes")
    t.add_argument("--precision", default="fp16", choices=("fp16", "fp32"), help="engine precision")
    t.add_argument("--device", default="cuda", help="cuda or cuda:N")
    add_model_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..models import load_model

    model = load_model(args.model, args.scale, args.weights)
    if args.format == "onnx":
        from ..backends.onnx_export import export_onnx

        out = export_onnx(model, args.out or f"{args.model}_x{args.scale}.onnx", opset=args.opset)
    else:
        from ..backends.tensorrt import TensorRTBackend

        width, height = parse_size(args.size)
        backend = TensorRTBackend(device=args.device, precision=args.precision, opset=args.opset)
        engine = backend.engine_file(model, width, height)
        out = args.out or f"{args.model}_x{args.scale}_{width}x{height}_{args.precision}.engine"
        shutil.copyfile(engine, out)
    print(f"wrote {out}", file=sys.stderr)
    return 0
