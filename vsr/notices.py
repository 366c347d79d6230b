"""The default for a library call's ``warn`` when its caller gives none.

The CLI always passes its :class:`vsr.report.Reporter`'s ``warn``; a Python user who calls the
API without one still sees a warning, as one line on stderr, written the same way everywhere.
"""
from __future__ import annotations

import sys


def print_warning(message: str) -> None:
    print(f"vsr: warning: {message}", file=sys.stderr)
