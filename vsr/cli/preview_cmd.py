"""``vsr preview``: a camera, file or stream super-resolved live, in a window or a web page."""
from __future__ import annotations

import argparse
import sys
import time

from .common import HelpFormatter, add_backend_flags, add_model_flags, examples, runner_from_args, runner_spec_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "preview",
        help="live view: bicubic beside the CNN, with fps, in a window or a web page",
        description="Super-resolve a webcam, a video file or a stream live and show the bicubic picture "
        "beside the CNN's, with the model, backend, frame rate, latency and skipped frames. When the "
        "CNN is slower than the source the newest frame is shown and the others are counted as "
        "skipped. Keys: q quit, space pause, s snapshot (PNG of both halves), m next model, "
        "v side by side / split line, [ and ] move the split line.",
        formatter_class=HelpFormatter,
        epilog=examples(
            ("vsr preview", "webcam 0 in a window (needs opencv-python)"),
            ("vsr preview --source clip.mp4 --loop --web 8080", "a file, over and over, on http://127.0.0.1:8080/"),
            ("vsr preview --source clip.mp4 --input-size 320x180 --scale 4", "shrink first, to see what x4 recovers"),
            ("vsr preview --source rtsp://camera/stream --web 0.0.0.0:8080 --layout split", "a stream, served to the network, split view"),
        ),
    )
    p.add_argument("--source", default="0", help="webcam index, video file, or stream URL that FFmpeg opens")
    p.add_argument("--loop", action="store_true", help="replay a file source when it ends")
    p.add_argument("--input-size", metavar="WxH", help="shrink each captured picture to WxH first, to see what the scale recovers")
    p.add_argument("--web", metavar="[HOST:]PORT", help="serve a web page on http://HOST:PORT/ instead of opening a window "
                   "(HOST defaults to 127.0.0.1; PORT 0 picks a free port)")
    p.add_argument("--layout", default="side", choices=("side", "split"), help="halves side by side, or one picture with a movable split line")
    p.add_argument("--snapshot-dir", default="vsr-snapshots", metavar="DIR", help="the folder where s saves snapshots (created when needed)")
    add_model_flags(p)
    add_backend_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..models import list_models
    from ..preview import LivePreview, open_source
    from ..rates import format_rate
    from ..sizes import parse_size

    size = parse_size(args.input_size, "--input-size") if args.input_size else None
    # Everything that can fail in one line is checked before the model loads.
    if args.web is None:
        from ..preview.window import check_window_support, show_window

        check_window_support()
        server = None
    else:
        from ..preview.web import PreviewServer, parse_address

        server = PreviewServer(*parse_address(args.web))
        if server.public:
            print(f"vsr: warning: --web {args.web} listens beyond this machine: anyone on the network can watch "
                  "and control the preview (use 127.0.0.1:PORT to keep it local)", file=sys.stderr, flush=True)
    source = None
    preview = None
    try:
        source = open_source(args.source, loop=args.loop, size=size)
        runner = runner_from_args(args)

        def load_runner(name: str):
            weights = args.weights if name == args.model else None
            return runner_spec_from_args(args, model=name, scale=args.scale, weights=weights).build()

        preview = LivePreview(source, runner, args.model, load_runner=load_runner, models=list_models(), layout=args.layout, snapshot_dir=args.snapshot_dir)
        preview.start()
        started = time.monotonic()
        try:
            if server is not None:
                print(f"vsr preview: {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
                server.serve(preview)
            else:
                show_window(preview)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a preview is meant to end
        preview.stop()
        preview.raise_error()
        stats = preview.stats()
        mean_fps = stats.frames / max(time.monotonic() - started, 1e-9)
        print(f"vsr preview: {stats.frames} frames in all, {format_rate(mean_fps)} fps on average, {stats.skipped} skipped", file=sys.stderr)
        return 0
    finally:
        if preview is not None:
            preview.stop()
        elif source is not None:
            source.close()
        if server is not None:
            server.close()
