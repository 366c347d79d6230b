"""The library's only voice of its own: the default for a ``warn`` its caller did not give, and
notes about slow one-time work (a TensorRT engine build) that no caller hook reaches.

The CLI always passes its :class:`vsr.report.Reporter`'s ``warn``; a Python user who calls the
API without one still sees a warning, as one line on stderr, written the same way everywhere.
"""
from __future__ import annotations

import sys


def print_warning(message: str) -> None:
    print(f"vsr: warning: {message}", file=sys.stderr)


def print_note(message: str) -> None:
    print(f"vsr: {message}", file=sys.stderr)
