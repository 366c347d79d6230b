"""``vsr bench``: measure speed (fps per stage) and quality (PSNR/SSIM vs bicubic, peers, papers)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_backend_flags

REPO_GUESS = Path(__file__).resolve().parents[2]


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="speed and quality benchmarks", description="Benchmarks written as JSON, Markdown and plots.")
    kinds = p.add_subparsers(dest="bench_kind", metavar="KIND", required=True)

    q = kinds.add_parser(
        "quality",
        help="Y-PSNR/SSIM of vsr, bicubic, OpenCV and the papers",
        description="Score every shipped model beside bicubic, OpenCV dnn_superres (when installed) and "
        "the published figures, under the published protocol, on Set5 and B100 (or --hr folders).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    q.add_argument("--hr", action="append", help="folder of HR images (repeatable; default: Set5 and B100 from --data)")
    q.add_argument("--data", default=str(REPO_GUESS.parent / "shared" / "data"), help="the shared data folder")
    q.add_argument("--scale", type=int, action="append", choices=(2, 3, 4), help="scales (repeatable; default 2, 3, 4)")
    q.add_argument("--models", default="espcn,msrn", help="comma-separated vsr models")
    q.add_argument("--published", default=str(REPO_GUESS / "bench" / "published.json"), help="published figures")
    q.add_argument("--json", help="result file (default bench/results/quality-<time>.json)")
    q.add_argument("--no-plot", action="store_true")
    add_backend_flags(q)
    q.set_defaults(handler=run_quality)


def run_quality(args: argparse.Namespace) -> int:
    from ..api import prepare_runner
    from ..benchmark.quality import load_published, quality_markdown, quality_suite
    from ..benchmark.report import default_output, plot_quality_gain, write_report
    from ..errors import InputError

    data = Path(args.data)
    if args.hr:
        datasets = {Path(h).name: Path(h) for h in args.hr}
    else:
        datasets = {"Set5": data / "eval" / "Set5", "B100": data / "eval" / "B100"}
    for name, folder in datasets.items():
        if not folder.is_dir():
            raise InputError(f"{folder}: not a directory (give --hr or --data)")
    scales = args.scale or [2, 3, 4]

    def runner_for(model, scale):
        return prepare_runner(model, scale, None, args.backend, args.device, args.precision, args.threads)

    from tqdm import tqdm

    total = sum(len([p for p in folder.iterdir() if p.is_file()]) for folder in datasets.values()) * len(scales)
    with tqdm(total=total, desc="quality", unit="img", file=sys.stderr, disable=None) as bar:
        report = quality_suite(
            datasets, scales, [m for m in args.models.split(",") if m], runner_for,
            data / "models" / "opencv", load_published(args.published), progress=lambda _: bar.update(1),
        )
    markdown = quality_markdown(report)
    json_path, md_path = write_report(report, args.json or default_output("quality"), "vsr " + " ".join(args.argv), markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    if not args.no_plot:
        png = plot_quality_gain(report, json_path.with_suffix(".png"))
        if png:
            print(f"wrote {png}", file=sys.stderr)
    return 0
