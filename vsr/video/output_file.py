"""The output file's safety rules: what may be written, and the hidden temporary file beside it.

Outputs are written to a hidden temporary file in the target's folder (same filesystem, so the
final rename is atomic) and renamed over the target only when complete.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..errors import OutputError


def check_target(target: Path, overwrite: bool, source: str | None = None) -> None:
    """OutputError unless ``target`` can be written: not a folder, not there (or ``overwrite``), in a
    writable folder, and not the input ``source`` itself."""
    if target.is_dir():
        raise OutputError(f"{target}: is a directory")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists (use -y to overwrite)")
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: output directory does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: output directory is not writable")
    if source not in (None, "-") and target.exists() and os.path.samefile(source, target):
        raise OutputError(f"{target}: is the input; write the output elsewhere")


def create_temp(target: Path) -> Path:
    """An empty hidden file beside ``target`` (same filesystem, so the final rename is atomic)."""
    for _ in range(10):
        temp = target.parent / f".{target.name}.{secrets.token_hex(4)}.vsr-part"
        try:
            fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # 0o666: the umask applies, as for any new file
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{target.parent}: output directory is not writable ({exc.strerror})") from None
        os.close(fd)
        return temp
    raise OutputError(f"{target.parent}: cannot create a temporary file")
