"""``vsr upscale`` for still images: one file, or every image of a folder into another folder.

A folder job is *resumable*: each finished output is recorded (with the SHA-256 of its input and
of itself) in a hidden file in the output folder, ``.vsr-folder-job.jsonl``. When a job is
interrupted (Ctrl-C, kill, power loss), the outputs finished so far stay, and rerunning the same
command skips those it can verify (same input folder and settings, input and output unchanged) and
does the rest; the record is removed when the job completes. Every single output is written
atomically (see :mod:`vsr.files`), so an interrupted job never leaves a partial image.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from .backends.base import Runner
from .errors import OutputError
from .files import atomic_write, check_target, claim_output, sha256_file
from .imaging.image_io import IMAGE_EXTENSIONS, image_bits, list_images, read_image, write_image
from .imaging.luma_sr import upscale_image

RECORD_NAME = ".vsr-folder-job.jsonl"
# Names a user gives videos: a folder named so was most likely meant as a video file.
_VIDEO_LIKE = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".m4v", ".ts", ".mpg", ".mpeg", ".flv", ".wmv"})


def _output_format(target: Path) -> str:
    ext = target.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"{target}: unknown image extension {ext or '(none)'}; use one of {', '.join(sorted(IMAGE_EXTENSIONS))}")
    return ext.lstrip(".")


def _checked_format(source: Path, target: Path, overwrite: bool) -> str:
    """The format to write ``target`` in, once it is known that it may be written."""
    check_target(target, overwrite, source)
    return _output_format(target)


def _folder_pairs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """The (input, output) pairs of a folder job, refused before any work when two inputs would
    make one output or an output would replace an input."""
    files = list_images(source, " (it is a folder, not a video file)" if source.suffix.lower() in _VIDEO_LIKE else "")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory")
    pairs = [(p, target / f"{p.stem}.png") for p in files]
    by_output: dict[Path, Path] = {}
    for src, out in pairs:
        if out in by_output:
            raise OutputError(f"{out}: both {by_output[out].name} and {src.name} would be written there; rename one of them")
        by_output[out] = src
    inputs = {_file_id(p) for p in files}
    for src, out in pairs:
        if _file_id(out) in inputs:
            raise OutputError(f"{out}: is an input; write the output into another folder")
    return pairs


def _file_id(path: Path) -> tuple[int, int] | None:
    """What makes a file the same file whatever its name (links, other spellings); None if absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class _Record:
    """The record of a folder job's finished outputs (see the module docstring); ``settings``
    None matches a record of any settings (the cheap check before a model loads)."""

    def __init__(self, target: Path, source: Path, settings: dict | None):
        self.path = target / RECORD_NAME
        self.header = {"source": str(source.resolve()), "settings": settings}

    def finished(self) -> dict[str, dict]:
        """Entries of an earlier run of the same job, by output name; {} for another job or none."""
        try:
            lines = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return {}
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the last line of a run killed while writing it
        if not entries or not isinstance(entries[0], dict) or entries[0].get("source") != self.header["source"]:
            return {}
        if self.header["settings"] is not None and entries[0].get("settings") != self.header["settings"]:
            return {}
        return {e["output"]: e for e in entries[1:] if isinstance(e, dict) and "output" in e}

    def start(self, keep: bool) -> None:
        """Begin the record (a new one unless ``keep``: resuming appends to the old one)."""
        if not keep:
            with atomic_write(self.path) as temp:
                temp.write_text(json.dumps(self.header) + "\n")

    def add(self, src: Path, out: Path, src_sha: str) -> None:
        entry = {"output": out.name, "input": src.name, "input_sha256": src_sha, "sha256": sha256_file(out)}
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _verified(done: dict[str, dict], src: Path, out: Path) -> bool:
    """Whether ``out`` is a finished output of this job: recorded, unchanged, from an unchanged input."""
    entry = done.get(out.name)
    if entry is None or entry.get("input") != src.name or not out.is_file():
        return False
    try:
        return sha256_file(out) == entry.get("sha256") and sha256_file(src) == entry.get("input_sha256")
    except OSError:
        return False


def _folder_plan(source: Path, target: Path, overwrite: bool, settings: dict | None):
    """Pairs to do, pairs done before (verified), and the record; every refusal comes here,
    before any work."""
    pairs = _folder_pairs(source, target)
    record = _Record(target, source, settings)
    done = record.finished() if target.is_dir() else {}
    todo, kept = [], []
    for src, out in pairs:
        if _verified(done, src, out):
            kept.append((src, out))
        else:
            if target.is_dir():  # a folder that is not there yet holds nothing to overwrite
                check_target(out, overwrite)
            todo.append((src, out))
    return todo, kept, record


def check_image_job(source: str | os.PathLike, target: str | os.PathLike, overwrite: bool = False, settings: dict | None = None) -> int:
    """Raise the error the image job would raise for this input or output, before a model loads;
    return the deepest sample depth (bits) among the images it will read."""
    source, target = Path(source), Path(target)
    if source.is_dir():
        todo, _, _ = _folder_plan(source, target, overwrite, settings)
        return max((image_bits(src) for src, _ in todo), default=8)
    _checked_format(source, target, overwrite)
    # Decoded once more, but images are small beside a model's start-up.
    return 8 * read_image(source).pixels.dtype.itemsize


def _stale_note(removed: list[Path]) -> str:
    files = "file" if len(removed) == 1 else "files"
    return f"removed {len(removed)} temporary {files} of an earlier run that was killed ({', '.join(p.name for p in removed)})"


def upscale_image_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    overwrite: bool = False,
    note: Callable[[str], None] | None = None,
) -> Path:
    """Upscale one image file into ``target`` (format from its extension); ``note`` receives a
    line about anything done besides (stale temporary files removed)."""
    source, target = Path(source), Path(target)
    fmt = _checked_format(source, target, overwrite)
    with claim_output(target) as claim:
        if claim.removed and note:
            note(_stale_note(claim.removed))
        _checked_format(source, target, overwrite)  # again, now that no other run can write it
        result = upscale_image(read_image(source), runner)
        with atomic_write(target, overwrite) as temp:
            write_image(result, temp, fmt=fmt)
    return target


def upscale_image_folder(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    overwrite: bool = False,
    progress: Callable[[int, int, Path], None] | None = None,
    note: Callable[[str], None] | None = None,
    settings: dict | None = None,
) -> list[Path]:
    """Upscale every image directly in ``source`` into folder ``target`` as PNG, names kept.

    Resumable (see the module docstring): outputs of an interrupted run of the same job (same
    ``source`` and ``settings``, e.g. the model and its weights, and the runner's scale) are kept
    after checking them, and ``note`` is told how many. Returns every output path.
    """
    source, target = Path(source), Path(target)
    settings = {**(settings or {}), "scale": runner.scale}
    _folder_plan(source, target, overwrite, settings)  # every refusal, before a folder is made
    target.mkdir(parents=True, exist_ok=True)
    with claim_output(target) as claim:
        if claim.removed and note:
            note(_stale_note(claim.removed))
        todo, kept, record = _folder_plan(source, target, overwrite, settings)  # again: no other run can change it now
        if kept and note:
            note(f"resuming an interrupted job: {len(kept)} of {len(kept) + len(todo)} images were done before (checked), {len(todo)} to do")
        record.start(keep=bool(kept))
        for i, (src, out) in enumerate(todo):
            src_sha = sha256_file(src)
            with claim_output(out) as out_claim:
                if out_claim.removed and note:
                    note(_stale_note(out_claim.removed))
                result = upscale_image(read_image(src), runner)
                with atomic_write(out) as temp:
                    write_image(result, temp, fmt="png")
            record.add(src, out, src_sha)
            if progress:
                progress(len(kept) + i + 1, len(kept) + len(todo), out)
        record.remove()
    return [out for _, out in sorted(todo + kept)]
