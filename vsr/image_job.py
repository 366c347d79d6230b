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


def _checked_format(target: Path, overwrite: bool) -> str:
    """The format to write ``target`` in, once it is known that it may be written."""
    _check_target(target, overwrite)
    return _output_format(target)


def _folder_plan(source: Path, target: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    """The (input, output) pairs of a folder job; refuses the job before any work, not half-way through."""
    files = sorted(p for p in source.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise InputError(f"{source}: no images found")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory")
    pairs = [(p, target / f"{p.stem}.png") for p in files]
    if target.is_dir():  # a folder that is not there yet holds nothing to overwrite
        for _, out in pairs:
            _check_target(out, overwrite)
    return pairs


def check_image_job(source: str | os.PathLike, target: str | os.PathLike, overwrite: bool = False) -> None:
    """Raise the error the image job would raise for this input or output, before a model loads."""
    source, target = Path(source), Path(target)
    if source.is_dir():
        _folder_plan(source, target, overwrite)
        return
    _checked_format(target, overwrite)
    read_image(source)  # decodes it once more, but images are small beside a model's start-up


def upscale_image_file(source: str | os.PathLike, target: str | os.PathLike, runner: Runner, overwrite: bool = False) -> Path:
    """Upscale one image file into ``target`` (format from its extension)."""
    source, target = Path(source), Path(target)
    fmt = _checked_format(target, overwrite)
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
    pairs = _folder_plan(source, target, overwrite)
    target.mkdir(parents=True, exist_ok=True)
    for i, (src, out) in enumerate(pairs):
        upscale_image_file(src, out, runner, overwrite=overwrite)
        if progress:
            progress(i + 1, len(pairs), out)
    return [out for _, out in pairs]
