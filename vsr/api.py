"""The Python API the command line wraps: prepare a model on a backend, upscale a path."""
from __future__ import annotations

import os
from pathlib import Path

from .backends import build_runner, make_backend
from .backends.base import Runner
from .errors import InputError
from .imaging.image_io import is_image_path
from .models import load_model


def prepare_runner(
    model: str = "espcn",
    scale: int = 2,
    weights: str | os.PathLike | None = None,
    backend: str = "auto",
    device: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
) -> Runner:
    """Load ``model`` x``scale`` (shipped weights unless ``weights`` is given) onto a backend."""
    return build_runner(load_model(model, scale, weights), make_backend(backend, device=device, precision=precision, threads=threads))


def is_image_job(source: str | os.PathLike) -> bool:
    """True for an image file or a folder (of images); False for video (including ``-``, stdin)."""
    if str(source) == "-":
        return False
    path = Path(source)
    return path.is_dir() or is_image_path(path)


def upscale_path(source: str | os.PathLike, target: str | os.PathLike, runner: Runner, overwrite: bool = False, **video_options):
    """Upscale an image, a folder of images, or a video, whichever ``source`` is."""
    if str(source) != "-" and not Path(source).exists():
        raise InputError(f"{source}: no such file or directory")
    if is_image_job(source):
        from .image_job import upscale_image_file, upscale_image_folder

        if Path(source).is_dir():
            return upscale_image_folder(source, target, runner, overwrite=overwrite)
        return upscale_image_file(source, target, runner, overwrite=overwrite)
    from .video.pipeline import upscale_video

    return upscale_video(source, target, runner, overwrite=overwrite, **video_options)
