"""Saving a snapshot of the preview: the bicubic and CNN halves side by side, without overlay, as a PNG.

Written like every other output of vsr, through :func:`vsr.files.atomic_write`: a save that fails
or is interrupted leaves neither a partial PNG nor its temporary file behind.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..files import atomic_write
from .compose import side_by_side

# Snapshots go into a folder of their own, never loose into the working directory.
DEFAULT_SNAPSHOT_DIR = "vsr-snapshots"


def save_snapshot(folder: str | Path, bicubic: np.ndarray, cnn: np.ndarray, model: str, scale: int) -> Path:
    """Save ``bicubic`` beside ``cnn`` in ``folder`` (made if needed), named after ``model``,
    ``scale`` and the time to the millisecond; returns the path. OutputError, in one line, if it
    cannot be written."""
    from PIL import Image

    folder = Path(folder)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    path = folder / f"vsr-preview-{model}-x{scale}-{stamp}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as temp:
            # The temporary name does not end in .png, so the format is named.
            Image.fromarray(side_by_side(bicubic, cnn)).save(temp, format="PNG")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write snapshot ({exc.strerror or exc})") from None
    return path
