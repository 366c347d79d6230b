"""``vsr upscale``: a video, an image, or a folder of images, made larger by the CNN."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import ConfigError
from ..report import Reporter, cluster_report, image_report, video_report
from .common import HelpFormatter, add_backend_flags, add_model_flags, examples, runner_from_args

EXAMPLES = examples(
    ("vsr upscale in.mp4 out.mp4", "x2 with the shipped ESPCN on the fastest backend here; libx264 crf 23, preset medium"),
    ("vsr upscale in.mkv out.mkv --scale 3 --crf 18 --preset slow", "x3 at higher quality (crf 18: larger file), encoded more slowly and tightly"),
    ("vsr upscale in.mp4 out.webm --codec libvpx-vp9", "VP9 in WebM"),
    ("vsr upscale photo.png photo_x4.png --scale 4", "an image (16-bit PNG stays 16-bit, alpha kept)"),
    ("vsr upscale photos/ big/ -q --report-json run.json", "a folder of images; no bar, the report also as JSON"),
    ("vsr upscale in.mp4 out.mp4 -v", "with decode/SR/encode times per frame after the report"),
    ("vsr upscale film.mkv clip.mkv -ss 1:30 -t 10", "ten seconds from 1 min 30 s (sound and subtitles cut alike)"),
    ("ffmpeg -i in.mov -f yuv4mpegpipe - | vsr upscale - - | ffplay -", "y4m through pipes"),
    ("ffmpeg -i in.mov -c copy -f nut - | vsr upscale - - -f nut | ffmpeg -i - out.mkv", "NUT through pipes: timestamps and sound kept"),
    ("vsr upscale film.mkv film_x2.mkv --cluster", "segments in parallel on Ray (pip install 'vsr[cluster]')"),
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale a video, an image or a folder of images",
        description="Upscale INPUT into OUTPUT. A video (any file FFmpeg reads, or - for y4m on stdin) "
        "keeps every frame, timestamp, audio/subtitle stream and colour tag; an image keeps its bit "
        "depth and alpha; a folder of images gives a folder of PNGs with the same names. The luma "
        "plane goes through the CNN, chroma is interpolated bicubically. With --cluster, videos are "
        "cut at keyframes into segments that Ray tasks upscale in parallel, then joined into the same "
        "file one machine would make; INPUT may then also be a folder of videos or a .txt list of them. "
        "Every job ends with one report line on stderr: output, frames, sizes, seconds, fps, model, the "
        "backend that ran, the encoder and its settings.",
        formatter_class=HelpFormatter,
        epilog=EXAMPLES,
    )
    p.add_argument("input", help="video file, image file, folder of images, or - (stdin: y4m, NUT, Matroska, ... as FFmpeg probes it)")
    p.add_argument("output", help="output file (format from its extension), folder, or - (stdout: y4m, or --format nut/matroska)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar (warnings and the closing report line stay)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="after the report, where the time went: decode, SR and encode in ms per frame, and which bounds the run")
    p.add_argument("--report-json", metavar="FILE", help="also write the closing report's facts to FILE as JSON")
    add_model_flags(p)
    add_backend_flags(p)
    part = p.add_argument_group("part of a video (as FFmpeg's input -ss and -t; the output starts at 0)")
    part.add_argument("-ss", "--start", type=_time, metavar="TIME", help="start at this time: seconds or [HH:]MM:SS[.frac]")
    part.add_argument("-t", "--duration", type=_time, metavar="TIME", help="process this long: seconds or [HH:]MM:SS[.frac]")
    part.add_argument("--frames", type=int, metavar="N", help="process at most N frames (from --start)")
    v = p.add_argument_group("video output")
    v.add_argument("--codec", default=None, help="video encoder: libx264, libx265, libsvtav1, libvpx-vp9, ffv1, h264_nvenc, ... "
                   "(default: libx264; libvpx-vp9 for .webm; y4m output is raw)")
    v.add_argument("--crf", type=_crf, default=None, help="constant rate factor: quality, lower is better; fractions such as "
                   "20.5 with libx264, libx265 and NVENC (default: the encoder's own: 23 for libx264, 28 for libx265, 31 for libvpx-vp9)")
    v.add_argument("--preset", default=None, help="encoder preset: speed against size, e.g. ultrafast, fast, medium, veryslow "
                   "(default: the encoder's own: medium for libx264 and libx265)")
    v.add_argument("-f", "--format", dest="container_format", metavar="NAME",
                   help="container for - (stdout): y4m, nut or matroska; NUT and Matroska carry timestamps and audio (default: y4m)")
    v.add_argument("--pix-fmt", default=None, help="output pixel format (default: the input's, when the codec takes it)")
    v.add_argument("--batch", type=int, default=None, metavar="N",
                   help="frames per model call (default: by frame size, up to 8 small frames, 1 large one)")
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


def _time(text: str) -> float:
    from ..video.cut import parse_time  # light: no torch, no decoding

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _crf(text: str) -> float | int:
    """A number; whole ones stay int, so that --crf 23 is recorded (and hashed) as before."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return int(value) if value.is_integer() else value


def run(args: argparse.Namespace) -> int:
    from ..api import check_job, is_image_job, upscale_path

    if args.cluster is not None:
        return run_cluster(args)
    if args.segment_frames is not None or args.segment_seconds is not None:
        raise ConfigError("--segment-frames and --segment-seconds go with --cluster")
    video_options = {}
    if not is_image_job(args.input):
        video_options = {k: getattr(args, k) for k in ("codec", "crf", "preset", "pix_fmt", "batch", "container_format") if getattr(args, k) is not None}
        if args.start is not None or args.duration is not None or args.frames is not None:
            from ..video.cut import Cut

            video_options["cut"] = Cut(args.start or 0.0, args.duration, args.frames)
    elif args.start is not None or args.duration is not None or args.frames is not None:
        raise ConfigError("--start, --duration and --frames are for videos, not images")
    # In ms, before torch loads; the input's depth decides whether bf16 may be the default.
    input_bits = check_job(args.input, args.output, overwrite=args.overwrite, **video_options)
    reporter = Reporter(quiet=args.quiet, verbose=args.verbose, json_path=args.report_json)
    runner = runner_from_args(args, warn=reporter.warn, input_bits=input_bits)
    if args.backend == "auto":
        from ..backends.engine_hint import faster_engine_hint

        from ..backends.base import bf16_keeps

        hint = faster_engine_hint(runner, bf16_allowed=args.precision is None and bf16_keeps(input_bits))
        if hint:
            reporter.note(hint)
    image_options = {}
    if is_image_job(args.input):
        # What a resumed folder job must have in common with the interrupted one.
        weights = str(Path(args.weights).resolve()) if args.weights else None
        image_options = {"note": reporter.note, "settings": {"model": args.model, "weights": weights, "precision": args.precision}}
        if Path(args.input).is_dir():
            image_options["progress"] = reporter.counter(unit="image")
    else:
        video_options["warn"] = reporter.warn
        video_options["progress_bar"] = lambda total: reporter.progress(total, unit="frame", desc="upscale")
    start = time.perf_counter()
    result = upscale_path(args.input, args.output, runner, overwrite=args.overwrite, **video_options, **image_options)
    if is_image_job(args.input):
        reporter.finish(image_report(args.input, result, time.perf_counter() - start, args.model, runner))
    else:
        reporter.finish(video_report(result, args.model, runner))
    return 0


def run_cluster(args: argparse.Namespace) -> int:
    from ..cluster import ClusterSettings, upscale_cluster

    if args.start is not None or args.duration is not None or args.frames is not None:
        raise ConfigError("--start, --duration and --frames do not go with --cluster yet; cut the video first")

    names = ("model", "scale", "weights", "backend", "device", "precision", "threads", "codec", "crf", "preset", "pix_fmt", "batch")
    from ..video.reader import source_sample_bits

    settings = ClusterSettings(**{name: getattr(args, name) for name in names}, input_bits=source_sample_bits(args.input))
    reporter = Reporter(quiet=args.quiet, verbose=args.verbose, json_path=args.report_json)
    result = upscale_cluster(
        args.input, args.output, settings,
        address=args.cluster, overwrite=args.overwrite,
        segment_frames=args.segment_frames, segment_seconds=args.segment_seconds,
        warn=reporter.warn,
        progress_bar=lambda total, done: reporter.progress(total, unit="frame", desc="upscale (cluster)", initial=done),
    )
    reporter.finish(cluster_report(result, settings, args.output))
    return 0
