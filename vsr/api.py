"""The Python API the command line wraps: prepare a model on a backend, upscale a path."""
from __future__ import annotations

import os
from pathlib import Path

from .backends.base import Runner
from .errors import InputError
from .imaging.image_io import is_image_path
from .runner_spec import RunnerSpec


def prepare_runner(
    model: str = "espcn",
    scale: int = 2,
    weights: str | os.PathLike | None = None,
    backend: str = "auto",
    device: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
    warn=None,
) -> Runner:
    """Load ``model`` x``scale`` (shipped weights unless ``weights`` is given) onto a backend;
    ``warn`` receives the line saying the automatic choice fell back (default: printed). The same
    as ``RunnerSpec(model, scale, ...).build(warn)`` (:mod:`vsr.runner_spec`)."""
    spec = RunnerSpec(model=model, scale=scale, weights=weights, backend=backend, device=device, precision=precision, threads=threads)
    return spec.build(warn=warn)


def is_image_job(source: str | os.PathLike) -> bool:
    """True for an image file or a folder (of images); False for video (including ``-``, stdin)."""
    if str(source) == "-":
        return False
    path = Path(source)
    return path.is_dir() or is_image_path(path)


def check_job(source: str | os.PathLike, target: str | os.PathLike, overwrite: bool = False, **video_options) -> int | None:
    """Refuse a job that cannot work (missing or unreadable input, unusable output or encoder
    settings) with a one-line error, cheaply: the CLI calls it before loading a model. Return the
    input's bits per sample where known (None: a pipe, or a stream that does not say), which
    decides whether bf16 may be the default precision (:attr:`RunnerSpec.input_bits`)."""
    if str(source) != "-" and not Path(source).exists():
        raise InputError(f"{source}: no such file or directory")
    if is_image_job(source):
        from .image_job import check_image_job

        return check_image_job(source, target, overwrite)
    from .video.pipeline import check_video_job

    options = {k: video_options.get(k) for k in ("codec", "crf", "preset", "container_format", "cut")}
    return check_video_job(source, target, overwrite, **options)


def upscale_path(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    overwrite: bool = False,
    *,
    note=None,
    settings: dict | None = None,
    progress=None,
    **video_options,
):
    """Upscale an image, a folder of images, or a video, whichever ``source`` is.

    For images, ``note`` receives one line about anything done besides the job (a resumed folder
    job, stale temporary files removed) and ``settings`` (JSON values: model, weights, ...) tells
    a folder job which earlier, interrupted run it may resume (see :mod:`vsr.image_job`);
    ``progress(done, total, output)`` is called after each image of a folder.
    """
    if str(source) != "-" and not Path(source).exists():
        raise InputError(f"{source}: no such file or directory")
    if is_image_job(source):
        from .image_job import upscale_image_file, upscale_image_folder

        if Path(source).is_dir():
            return upscale_image_folder(source, target, runner, overwrite=overwrite, progress=progress, note=note, settings=settings)
        return upscale_image_file(source, target, runner, overwrite=overwrite, note=note)
    from .video.pipeline import upscale_video

    return upscale_video(source, target, runner, overwrite=overwrite, **video_options)
