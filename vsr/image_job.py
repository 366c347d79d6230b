"""``vsr upscale`` for still images: one file, or every image of a folder into another folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from .backends.base import Runner
from .errors import InputError, OutputError
from .imaging.image_io import IMAGE_EXTENSIONS, is_image_path, read_image, write_image
from .imaging.luma_sr import upscale_image


def _atomic_write(image, target: Path, fmt: str) -> None:
    """Write beside the target and rename, so a failure never leaves a partial file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target.parent}: output directory is not writable ({exc.strerror})") from None
    os.close(fd)
    try:
        write_image(image, tmp, fmt=fmt)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists (use -y to overwrite)")
    if not target.parent.is_dir():
        raise OutputError(f"{target.parent}: output directory does not exist")
    if not os.access(target.parent, os.W_OK):
        raise OutputError(f"{target.parent}: output directory is not writable")


def _output_format(target: Path) -> str:
    ext = target.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"{target}: unknown image extension {ext or '(none)'}; use one of {', '.join(sorted(IMAGE_EXTENSIONS))}")
    return ext.lstrip(".")


def check_image_job(source: str | os.PathLike, target: str | os.PathLike, overwrite: bool = False) -> None:
    """Raise the error the image job would raise for this input or output, before a model loads."""
    source, target = Path(source), Path(target)
    if source.is_dir():
        if not any(p.is_file() and is_image_path(p) for p in source.iterdir()):
            raise InputError(f"{source}: no images found")
        if target.exists() and not target.is_dir():
            raise OutputError(f"{target}: exists and is not a directory")
        return
    _check_target(target, overwrite)
    _output_format(target)
    read_image(source)  # decodes it once more, but images are small beside a model's start-up


def upscale_image_file(source: str | os.PathLike, target: str | os.PathLike, runner: Runner, overwrite: bool = False) -> Path:
    """Upscale one image file into ``target`` (format from its extension)."""
    source, target = Path(source), Path(target)
    _check_target(target, overwrite)
    fmt = _output_format(target)
    result = upscale_image(read_image(source), runner)
    _atomic_write(result, target, fmt)
    return target


def upscale_image_folder(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    overwrite: bool = False,
    progress: Callable[[int, int, Path], None] | None = None,
) -> list[Path]:
    """Upscale every image directly in ``source`` into folder ``target`` as PNG, names kept."""
    source, target = Path(source), Path(target)
    files = sorted(p for p in source.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise InputError(f"{source}: no images found")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory")
    target.mkdir(parents=True, exist_ok=True)
    outputs = [target / f"{p.stem}.png" for p in files]
    for out in outputs:  # refuse before doing any work, not half-way through
        _check_target(out, overwrite)
    for i, (src, out) in enumerate(zip(files, outputs)):
        upscale_image_file(src, out, runner, overwrite=overwrite)
        if progress:
            progress(i + 1, len(files), out)
    return outputs
