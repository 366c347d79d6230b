"""Which videos a cluster run upscales, and where each one's output goes.

``INPUT`` is one video file (output: the file ``OUTPUT``), a folder (every video directly in it,
by extension), or a ``.txt`` list of video paths, one per line (relative paths are relative to the
list's folder; blank lines and lines starting with ``#`` are skipped). For a folder or a list,
``OUTPUT`` is a folder, and each video keeps its name and extension when vsr can write that
container (``.mp4 .m4v .mkv .mov .webm``), else becomes ``.mkv``, which holds any stream.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, InputError, OutputError
from ..video.containers import Y4M
from ..video.encoder import FORMATS

#: Extensions a folder's files must have to be taken as videos.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".y4m", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".flv", ".wmv", ".ogv", ".3gp", ".mxf", ".nut", ".dv"}
)
LIST_EXTENSION = ".txt"
_FALLBACK_EXTENSION = ".mkv"


@dataclass(frozen=True)
class VideoPair:
    """One video of the run and the file its output goes to."""

    source: Path
    target: Path


def _list_file(path: Path) -> list[Path]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the list ({exc})") from None
    videos = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        video = Path(line) if Path(line).is_absolute() else path.parent / line
        if not video.is_file():
            raise InputError(f"{path}:{number}: {line}: no such file")
        videos.append(video)
    return videos


def _output_name(source: Path) -> str:
    writable = source.suffix.lower() in FORMATS and FORMATS[source.suffix.lower()] != Y4M
    return source.name if writable else source.stem + _FALLBACK_EXTENSION


def list_videos(source: str | os.PathLike, target: str | os.PathLike) -> tuple[list[VideoPair], bool]:
    """The (source, target) pairs of a run, and whether the output is a folder.

    InputError for a missing input, an empty folder or list; OutputError when two videos would
    write the same output, or a folder's output is an existing file.
    """
    source, target = Path(source), Path(target)
    if str(source) == "-" or str(target) == "-":
        raise ConfigError("--cluster reads and writes files (every worker opens the input); not - (stdin/stdout)")
    if not source.exists():
        raise InputError(f"{source}: no such file or directory")
    if source.is_file() and source.suffix.lower() != LIST_EXTENSION:
        return [VideoPair(source, target)], False
    if source.is_dir():
        videos = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if not videos:
            raise InputError(f"{source}: no videos found (extensions: {' '.join(sorted(VIDEO_EXTENSIONS))})")
    else:
        videos = _list_file(source)
        if not videos:
            raise InputError(f"{source}: the list names no videos")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder (a folder or list of videos gives a folder of outputs)")
    pairs = [VideoPair(video, target / _output_name(video)) for video in videos]
    seen: dict[Path, Path] = {}
    for pair in pairs:
        if pair.target in seen:
            raise OutputError(f"{seen[pair.target]} and {pair.source} would both be written to {pair.target}")
        seen[pair.target] = pair.source
    return pairs, True
