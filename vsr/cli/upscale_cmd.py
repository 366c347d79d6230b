"""``vsr upscale``: a video, an image, or a folder of images, made larger by the CNN."""
from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from .common import add_backend_flags, add_model_flags, runner_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale a video, an image or a folder of images",
        description="Upscale INPUT into OUTPUT. A video (any file FFmpeg reads, or - for y4m on stdin) "
        "keeps every frame, timestamp, audio/subtitle stream and colour tag; an image keeps its bit "
        "depth and alpha; a folder of images gives a folder of PNGs with the same names. The luma "
        "plane goes through the CNN, chroma is interpolated bicubically. With --cluster, videos are "
        "cut at keyframes into segments that Ray tasks upscale in parallel, then joined into the same "
        "file one machine would make; INPUT may then also be a folder of videos or a .txt list of them.",
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
    c = p.add_argument_group(
        "cluster (Ray; pip install 'vsr[cluster]')",
        "Segments run as Ray tasks, each asking for --threads CPUs (default 1) and, for a GPU backend or "
        "device (or auto on a cluster with GPUs), one GPU. Parts and a manifest are kept in OUTPUT.vsr-parts/ "
        "until the join: rerunning the same command after a crash or Ctrl-C redoes only the missing "
        "segments; a segment whose worker dies is retried. On several machines, INPUT and OUTPUT must be "
        "on storage every node sees at the same path.",
    )
    c.add_argument(
        "--cluster",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray: no ADDRESS (or local) starts Ray on this machine's cores; auto joins the cluster "
        "this machine belongs to (ray start); ray://HOST:10001 connects through Ray Client. Give it after "
        "INPUT OUTPUT, or as --cluster=ADDRESS",
    )
    c.add_argument("--segment-frames", type=int, metavar="N", help="cut segments of at least N frames, at the next clean keyframe")
    c.add_argument("--segment-seconds", type=float, metavar="S", help="cut segments of at least S seconds (60 when neither is given)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api import check_job, is_image_job, upscale_path

    if args.cluster is not None:
        return run_cluster(args)
    if args.segment_frames is not None or args.segment_seconds is not None:
        raise ConfigError("--segment-frames and --segment-seconds go with --cluster")
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


def run_cluster(args: argparse.Namespace) -> int:
    from ..cluster import ClusterSettings, upscale_cluster

    names = ("model", "scale", "weights", "backend", "device", "precision", "threads", "codec", "crf", "preset", "pix_fmt", "batch")
    settings = ClusterSettings(**{name: getattr(args, name) for name in names})
    result = upscale_cluster(
        args.input, args.output, settings, args.cluster, args.overwrite, args.segment_frames, args.segment_seconds, args.quiet
    )
    if not args.quiet:
        what = result.videos[0].target if len(result.videos) == 1 else f"{len(result.videos)} videos into {args.output}"
        where = f" on {result.cluster}" if result.cluster else ""
        reused = f", {result.segments_reused} done before" if result.segments_reused else ""
        print(f"wrote {what} ({result.segments_run} segments{where}{reused}; {result.wall_s:.1f} s)", file=sys.stderr)
    return 0
