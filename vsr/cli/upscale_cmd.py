"""``vsr upscale``: a video, an image, or a folder of images, made larger by the CNN."""
from __future__ import annotations

import argparse
import sys

from .common import add_backend_flags, add_model_flags, runner_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale a video, an image or a folder of images",
        description="Upscale INPUT into OUTPUT. A video (any file FFmpeg reads, or - for y4m on stdin) "
        "keeps every frame, timestamp, audio/subtitle stream and colour tag; an image keeps its bit "
        "depth and alpha; a folder of images gives a folder of PNGs with the same names. The luma "
        "plane goes through the CNN, chroma is interpolated bicubically.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", help="video file, image file, folder of images, or - (y4m on stdin)")
    p.add_argument("output", help="output file (format from its extension), folder, or - (y4m on stdout)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_flags(p)
    add_backend_flags(p)
    v = p.add_argument_group("video output")
    v.add_argument("--codec", default=None, help="video encoder (default libx264; y4m output is raw)")
    v.add_argument("--crf", type=int, default=None, help="constant rate factor (quality; lower is better)")
    v.add_argument("--preset", default=None, help="encoder preset, e.g. medium, fast, veryslow")
    v.add_argument("--pix-fmt", default=None, help="output pixel format (default: the input's, when the codec takes it)")
    v.add_argument("--batch", type=int, default=None, help="frames per model call")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api import check_job, is_image_job, upscale_path

    video_options = {}
    if not is_image_job(args.input):
        video_options = {k: getattr(args, k) for k in ("codec", "crf", "preset", "pix_fmt", "batch") if getattr(args, k) is not None}
        video_options["quiet"] = args.quiet
    check_job(args.input, args.output, overwrite=args.overwrite, **video_options)  # in ms, before torch loads
    runner = runner_from_args(args)
    result = upscale_path(args.input, args.output, runner, overwrite=args.overwrite, **video_options)
    if not args.quiet and args.output != "-":
        count = f"{len(result)} images" if isinstance(result, list) else args.output
        print(f"wrote {count}", file=sys.stderr)
    return 0
