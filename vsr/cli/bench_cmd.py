"""``vsr bench``: measure speed (fps per stage) and quality (PSNR/SSIM vs bicubic, peers, papers)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import MODEL_CHOICES, HelpFormatter, add_backend_flags, examples, runner_spec_from_args
from ..report import Reporter

# The one place a data folder may come from besides --data: named by the user, never guessed.
DATA_ENV = "VSR_DATA"

QUALITY_LINES = (
    ("vsr bench quality --data DATA", "Set5 and B100 from DATA/eval, x2-x4, beside bicubic, OpenCV (DATA/models/opencv) and the papers"),
    ("vsr bench quality --hr my_photos/ --scale 2 --models espcn", "your own HR images"),
    ("vsr bench quality --video clip.y4m --scale 2 --json q/video.json", "a video, frame by frame; results in q/"),
)
SPEED_LINES = (
    ("vsr bench speed --input clip.y4m --repeats 3", "fps per pipeline stage on a real clip, median of 3 runs"),
    ("vsr bench speed --size 1920x1080 --size 640x360 --backend onnxruntime", "synthetic frames of two sizes"),
    ("vsr bench speed --suite 4k --backend tensorrt", "the 4K-frames suite on a GPU"),
)
QUALITY_EXAMPLES, SPEED_EXAMPLES = examples(*QUALITY_LINES), examples(*SPEED_LINES)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="speed and quality benchmarks",
        description="Benchmarks written as JSON (with the machine, versions and command), a Markdown table and a plot "
        "(with matplotlib: pip install 'vsr[bench]'), into --json's folder or ./vsr-bench/.",
        formatter_class=HelpFormatter,
        epilog=examples(*QUALITY_LINES, *SPEED_LINES),
    )
    kinds = p.add_subparsers(dest="bench_kind", metavar="KIND", required=True)

    q = kinds.add_parser(
        "quality",
        help="Y-PSNR/SSIM of vsr, bicubic, OpenCV and the papers",
        description="Score every shipped model beside bicubic, OpenCV dnn_superres (when installed) and "
        "the published figures, under the published protocol, on Set5 and B100 (or --hr folders).",
        formatter_class=HelpFormatter,
        epilog=QUALITY_EXAMPLES,
    )
    q.add_argument("--hr", action="append", metavar="DIR", help="folder of HR images (repeatable; default: Set5 and B100 from --data)")
    q.add_argument("--video", action="append", metavar="FILE", help="also (or, without --hr, only) score this video, frame by frame (repeatable)")
    q.add_argument("--video-frames", type=int, metavar="N", help="frames per video (default: all)")
    q.add_argument("--data", metavar="DIR", default=os.environ.get(DATA_ENV),
                   help=f"data folder holding eval/Set5, eval/B100 and models/opencv/*.pb (default: ${DATA_ENV}, when set)")
    q.add_argument("--scale", type=int, action="append", choices=(2, 3, 4), help="scales (repeatable; default 2, 3, 4)")
    q.add_argument("--models", default="espcn,msrn", help="comma-separated vsr models (one without weights shows why instead of figures)")
    q.add_argument("--published", metavar="FILE", help="published figures (default: the table shipped in vsr/benchmark/published.json)")
    q.add_argument("--json", metavar="FILE", help="result file; the .md table and .png plot go beside it (default: vsr-bench/quality-<UTC time>.json)")
    q.add_argument("--no-plot", action="store_true", help="no .png plot")
    add_backend_flags(q, scoring=True)
    q.set_defaults(handler=run_quality)

    sp = kinds.add_parser(
        "speed",
        help="fps of the real pipeline, per stage",
        description="Run the real upscale pipeline and report fps per stage (decode, frame->tensor, SR, "
        "tensor->frame+chroma, encode), end to end, and the pipeline efficiency. Give --input (any video; "
        "e.g. Xiph y4m sequences), --size WxH (synthetic frames), or --suite 4k "
        "(1920x1080 x2, 1280x720 x3, 960x540 x4, 3840x2160 x2).",
        formatter_class=HelpFormatter,
        epilog=SPEED_EXAMPLES,
    )
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", action="append", metavar="FILE", help="video file (repeatable)")
    src.add_argument("--size", action="append", metavar="WxH", help="synthetic frames of this size, e.g. 3840x2160 (repeatable)")
    src.add_argument("--suite", choices=("4k",), help="the 4K-frames suite (synthetic)")
    sp.add_argument("--model", default="espcn", choices=MODEL_CHOICES, help="network")
    sp.add_argument("--scale", type=int, default=2, choices=(2, 3, 4), help="scale for --input/--size")
    sp.add_argument("--weights", metavar="PATH", help="safetensors weights to use (default: the shipped ones for --model and --scale)")
    sp.add_argument("--frames", type=int, metavar="N", help="frames per run (default: 10 synthetic ones; --input: the whole file, or its first N frames as raw y4m)")
    sp.add_argument("--warmup", type=int, default=1, help="model calls before timing")
    sp.add_argument("--repeats", type=int, default=3, help="runs per case; the median is reported with the spread")
    sp.add_argument("--batch", type=int, metavar="N", help="frames per model call (default: by frame size, as vsr upscale)")
    sp.add_argument("--codec", help="video encoder (default: libx264, crf 23)")
    sp.add_argument("--preset", help="encoder preset (default: the encoder's own, medium for libx264)")
    sp.add_argument("--json", metavar="FILE", help="result file; the .md table and .png plot go beside it (default: vsr-bench/speed-<UTC time>.json)")
    sp.add_argument("--no-plot", action="store_true", help="no .png plot")
    add_backend_flags(sp)
    sp.set_defaults(handler=run_speed)


def _publish(args: argparse.Namespace, kind: str, report: dict, markdown: str, plot) -> int:
    """Write the JSON and Markdown (and plot), print the table; the tail of every bench kind."""
    from ..benchmark.report import default_output, write_report

    json_path, md_path = write_report(report, args.json or default_output(kind), "vsr " + " ".join(args.argv), markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    if not args.no_plot:
        png = plot(report, json_path.with_suffix(".png"))
        if png:
            print(f"wrote {png}", file=sys.stderr)
        else:
            print("vsr: no plot drawn: matplotlib is not installed (pip install 'vsr[bench]')", file=sys.stderr)
    return 0


def run_quality(args: argparse.Namespace) -> int:
    from ..benchmark.quality import load_published, quality_markdown, quality_suite
    from ..benchmark.report import plot_quality_gain
    from ..errors import InputError

    data = Path(args.data) if args.data else None
    if data is not None and not data.is_dir():
        raise InputError(f"{data}: no such data folder (--data or ${DATA_ENV})")
    if args.hr:
        datasets = {Path(h).name: Path(h) for h in args.hr}
    elif args.video:
        datasets = {}
    elif data is None:
        raise InputError(f"no images to score: give --hr DIR, or --data DIR (or ${DATA_ENV}) holding eval/Set5 and eval/B100")
    else:
        datasets = {"Set5": data / "eval" / "Set5", "B100": data / "eval" / "B100"}
    for name, folder in datasets.items():
        if not folder.is_dir():
            raise InputError(f"{folder}: not a directory (give --hr DIR or --data DIR)")
    scales = args.scale or [2, 3, 4]

    def runner_for(model, scale):
        return runner_spec_from_args(args, model=model, scale=scale).build()

    total = sum(len([p for p in folder.iterdir() if p.is_file()]) for folder in datasets.values()) * len(scales)
    bar = Reporter().progress(total, unit="img", desc="quality")
    try:
        report = quality_suite(
            datasets, scales, [m for m in args.models.split(",") if m], runner_for,
            data / "models" / "opencv" if data else None, load_published(args.published), progress=lambda _: bar.update(1),
        )
    finally:
        bar.close()
    markdown = quality_markdown(report) if report["results"] else ""
    if args.video:
        from ..benchmark.quality import video_quality, video_quality_markdown

        model = [m for m in args.models.split(",") if m][0]
        report["video"] = [video_quality(v, runner_for(model, scale), args.video_frames) for v in args.video for scale in scales]
        markdown += "\n" + video_quality_markdown(report["video"], f"vsr-{model}")
    plot = plot_quality_gain if report["results"] else (lambda *_: None)
    return _publish(args, "quality", report, markdown, plot)


def run_speed(args: argparse.Namespace) -> int:
    from functools import cache

    from ..benchmark.speed import plot_speed, speed_cases, speed_markdown, speed_suite
    from ..errors import InputError
    from ..sizes import parse_size

    if args.repeats < 1 or args.warmup < 0 or (args.frames is not None and args.frames < 1):
        raise InputError("--repeats and --frames must be at least 1, --warmup at least 0")
    cases = speed_cases(args.suite, [parse_size(text) for text in args.size or []], args.input, args.scale)

    @cache
    def runner_for(scale: int):
        return runner_spec_from_args(args, model=args.model, scale=scale, weights=args.weights).build()

    reporter = Reporter()
    results = speed_suite(
        cases, runner_for, args.frames, args.repeats, args.warmup,
        announce=lambda i, n, label: reporter.note(f"[{i}/{n}] {label} ..."),
        codec=args.codec, preset=args.preset, batch=args.batch,
    )
    report = {"benchmark": "speed", "model": args.model, "repeats": args.repeats, "warmup": args.warmup, "results": results}
    return _publish(args, "speed", report, speed_markdown(report), plot_speed)
