"""Where exported graphs and engines are kept between runs, and the keys they are kept under.

A cache entry's name carries every input that changes it (model, scale, architecture, weights,
exporter and runtime versions, ...), hashed: a stale entry is never picked up, only left behind.
"""
from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vsr`` (normally ``~/.cache/vsr``): where a cache is found, not what it holds."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vsr"


def cache_dir(explicit: str | os.PathLike | None, kind: str) -> Path:
    """The folder for ``kind`` ("onnx", "tensorrt") under ``explicit`` or the default, created."""
    folder = (Path(explicit) if explicit is not None else default_cache_dir()) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder
