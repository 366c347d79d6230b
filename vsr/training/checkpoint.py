"""Training checkpoints: written atomically, read back with ``weights_only=True`` (no unpickling)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import WeightsError
from ..files import atomic_write


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    """Write ``state`` (tensors, numbers, strings, dicts of them) so a crash never leaves half a file."""
    # fsync: a checkpoint is hours of training; after a power loss it must be the old one or the new one.
    with atomic_write(path, fsync=True) as temp:
        torch.save(state, temp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise WeightsError(f"{path}: not a readable vsr checkpoint ({type(exc).__name__})") from None
