"""Entry point of the ``vsr`` command: sub-commands, and one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .. import __version__
from ..errors import VsrError
from . import bench_cmd, eval_cmd, export_cmd, models_cmd, preview_cmd, train_cmd, upscale_cmd
from .common import HelpFormatter, examples

COMMANDS = (upscale_cmd, eval_cmd, train_cmd, bench_cmd, export_cmd, preview_cmd, models_cmd)

EPILOG = examples(
    ("vsr upscale in.mp4 out.mp4", "video x2 with the shipped ESPCN, sound and subtitles kept; libx264 crf 23"),
    ("vsr upscale photo.png big.png --scale 3", "an image x3 (bit depth and alpha kept)"),
    ("vsr upscale photos/ photos_x4/ --scale 4", "every image of a folder, as PNGs of the same names"),
    ("vsr upscale film.mkv film_x2.mkv --cluster", "one long video in segments on Ray (pip install 'vsr[cluster]')"),
    ("vsr models", "the models and the weights that ship"),
    ("vsr preview --source clip.mp4 --web 8080", "bicubic beside the CNN, live, at http://127.0.0.1:8080/"),
) + "\nRun `vsr COMMAND --help` for the options and examples of each command."


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``kill``, ``timeout``, a closed terminal), raised in the main thread as
    Ctrl-C is, so that every clean-up written for Ctrl-C (temporary files, workers) runs for it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _terminate(signum: int, _frame) -> None:
    for sig in _TERMINATING:  # once: a second signal must not break off the clean-up of the first
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def _terminating_signals_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.signal(sig, _terminate) for sig in _TERMINATING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr",
        description="Video and image super-resolution with ESPCN and MSRN on the luma plane.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"vsr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = list(argv)  # recorded verbatim in training outputs and bench results
    try:
        with _terminating_signals_interrupt():
            return int(args.handler(args) or 0)
    except VsrError as exc:
        print(f"vsr: error: {exc}", file=sys.stderr)
        return 1
    except Terminated as exc:
        print(f"vsr: terminated ({signal.Signals(exc.signum).name})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("vsr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
