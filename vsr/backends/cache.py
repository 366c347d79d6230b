"""Where exported graphs and engines are kept between runs, and the keys they are kept under.

A cache entry's name carries every input that changes it (model, scale, architecture, weights,
exporter and runtime versions, ...), hashed: a stale entry is never picked up, only left behind.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn

from ..files import atomic_write


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vsr`` (normally ``~/.cache/vsr``): where a cache is found, not what it holds."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vsr"


def cache_dir(explicit: str | os.PathLike | None, kind: str) -> Path:
    """The folder for ``kind`` ("onnx", "tensorrt") under ``explicit`` or the default, created."""
    folder = (Path(explicit) if explicit is not None else default_cache_dir()) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def state_digest(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (names, dtypes, shapes, bytes).

    The same as hashing the weights file for models loaded from one, and it also works for
    models built in memory (tests, freshly trained), so it is what cache keys use.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so another process never sees a half-written file."""
    with atomic_write(path) as temp:
        temp.write_bytes(data)
