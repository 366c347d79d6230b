"""The record of a cluster run, kept beside its output so that a rerun redoes only what is missing.

One JSON file, ``manifest.json``, in the work folder ``OUTPUT.vsr-parts/``: the settings'
fingerprint (see :meth:`vsr.cluster.settings.ClusterSettings.fingerprint`) and the source's size
and modification time, the segment plan, and each segment's state: ``pending``, or ``done`` with
its part file's frame count, size and SHA-256. Only the driver writes it, and only after a part
file is complete (the pipeline renames a part into place when it is whole), so nothing half-written
is ever called done; a rerun checks each done part against its record before it reuses it. Every write replaces the file atomically (temporary file, fsync, rename): a
crash leaves the previous version or the new one, never a torn one.

When every part is joined the video's state becomes ``joined`` and the parts are deleted; the
work folder goes when the whole run has succeeded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import OutputError
from ..files import digest_of, write_json_atomically
from .part_check import part_problem
from .segments import Segment, SegmentPlan

MANIFEST_NAME = "manifest.json"
_FORMAT = 1
PENDING, DONE = "pending", "done"
RUNNING, JOINED = "running", "joined"


def source_identity(source: str | os.PathLike) -> dict:
    """What tells a changed source file: its resolved path, size and modification time."""
    path = Path(source).resolve()
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class SegmentRecord:
    """A segment and how far it got: ``state`` pending/done; for done, its part's facts."""

    segment: Segment
    part: str
    state: str = PENDING
    frames: int | None = None
    size: int | None = None
    sha256: str | None = None

    def as_dict(self) -> dict:
        return {"segment": self.segment.as_dict(), "part": self.part, "state": self.state, "frames": self.frames, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict) -> SegmentRecord:
        return cls(Segment.from_dict(data["segment"]), data["part"], data["state"], data.get("frames"), data.get("size"), data.get("sha256"))


@dataclass
class Manifest:
    """The state of one video's run, stored at ``folder / manifest.json``."""

    folder: Path
    settings_hash: str
    settings: dict
    source: dict
    target: str
    time_base: Fraction
    variable_rate: bool
    last_duration: Fraction | None
    segments: list[SegmentRecord]
    notes: list[str] = field(default_factory=list)
    state: str = RUNNING

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def create(cls, folder: Path, fingerprint: dict, source: str, target: str, plan: SegmentPlan, part_suffix: str) -> Manifest:
        """A fresh manifest for ``plan``, every segment pending (not saved yet)."""
        records = [SegmentRecord(s, f"part{s.index:05d}{part_suffix}") for s in plan.segments]
        return cls(
            folder=folder,
            settings_hash=digest_of(fingerprint),
            settings=fingerprint,
            source=source_identity(source),
            target=str(target),
            time_base=plan.time_base,
            variable_rate=plan.variable_rate,
            last_duration=plan.last_duration,
            segments=records,
            notes=list(plan.notes),
        )

    def pending(self) -> list[SegmentRecord]:
        return [r for r in self.segments if r.state != DONE]

    def part_path(self, record: SegmentRecord) -> Path:
        return self.folder / record.part

    def mark_done(self, index: int, frames: int, size: int, sha256: str) -> None:
        record = self.segments[index]
        record.state, record.frames, record.size, record.sha256 = DONE, frames, size, sha256

    def recheck_done(self) -> list[str]:
        """Set back to pending every done segment whose part is not the one recorded (see
        :func:`~vsr.cluster.part_check.part_problem`), and delete what is not a recorded part:
        parts of pending segments (a task finished but the run stopped before recording it) and
        temporary files of tasks that died. One line per segment set back, saying why."""
        lost = []
        for record in self.segments:
            path = self.part_path(record)
            if record.state == DONE:
                problem = part_problem(path, record.frames, record.size, record.sha256)
                if problem is not None:
                    record.state, record.frames, record.size, record.sha256 = PENDING, None, None, None
                    lost.append(f"{path}: {problem}; segment {record.segment.index} is done again")
            if record.state != DONE:
                path.unlink(missing_ok=True)
        for temp in self.folder.glob(".*.vsr-part"):
            temp.unlink(missing_ok=True)
        return lost

    def restart(self) -> None:
        """Every segment pending again (the parts of a joined run went with the join)."""
        self.state = RUNNING
        for record in self.segments:
            record.state, record.frames, record.size, record.sha256 = PENDING, None, None, None

    def matches(self, fingerprint: dict, source: str) -> bool:
        """True if this run was made with the same settings from the same, unchanged source."""
        return self.settings_hash == digest_of(fingerprint) and self.source == source_identity(source)

    def as_dict(self) -> dict:
        return {
            "format": _FORMAT,
            "state": self.state,
            "settings_hash": self.settings_hash,
            "settings": self.settings,
            "source": self.source,
            "target": self.target,
            "time_base": str(self.time_base),
            "variable_rate": self.variable_rate,
            "last_duration": None if self.last_duration is None else str(self.last_duration),
            "notes": self.notes,
            "segments": [r.as_dict() for r in self.segments],
        }

    def save(self) -> None:
        """Write atomically: a temporary file beside it, flushed to disk, renamed over it."""
        try:
            write_json_atomically(self.path, self.as_dict(), indent=1, fsync=True)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the run's manifest ({exc.strerror or exc})") from None

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """The manifest in ``folder``; OutputError if it is missing or unreadable."""
        path = folder / MANIFEST_NAME
        try:
            with open(path) as f:
                data = json.load(f)
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}, this vsr writes {_FORMAT}")
            return cls(
                folder=folder,
                settings_hash=data["settings_hash"],
                settings=data["settings"],
                source=data["source"],
                target=data["target"],
                time_base=Fraction(data["time_base"]),
                variable_rate=data["variable_rate"],
                last_duration=None if data["last_duration"] is None else Fraction(data["last_duration"]),
                segments=[SegmentRecord.from_dict(r) for r in data["segments"]],
                notes=data.get("notes", []),
                state=data["state"],
            )
        except FileNotFoundError:
            raise OutputError(f"{folder}: a work folder without its {MANIFEST_NAME}; remove it or add -y to start afresh") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"{path}: unreadable ({exc}); remove {folder} or add -y to start afresh") from None
