"""Kept for the modules that import the output-file rules from here; they live in :mod:`vsr.files`."""
from __future__ import annotations

from ..files import check_target, create_temp

__all__ = ["check_target", "create_temp"]
