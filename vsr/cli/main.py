"""Entry point of the ``vsr`` command: sub-commands, and one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import sys

from ..errors import VsrError
from . import bench_cmd, eval_cmd, export_cmd, models_cmd, preview_cmd, train_cmd, upscale_cmd

COMMANDS = (upscale_cmd, eval_cmd, train_cmd, bench_cmd, export_cmd, preview_cmd, models_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr",
        description="Video and image super-resolution with ESPCN and MSRN on the luma plane.",
        epilog="Run `vsr COMMAND --help` for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = list(argv)  # recorded verbatim in training outputs and bench results
    try:
        return int(args.handler(args) or 0)
    except VsrError as exc:
        print(f"vsr: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vsr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
