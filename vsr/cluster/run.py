"""``upscale_cluster``: videos cut into segments, upscaled by Ray tasks, joined, resumable.

For each video of the run (:mod:`vsr.cluster.inputs`) the driver, this process:

1. plans segments at clean keyframes (:mod:`vsr.cluster.segments`), or finds the plan of an
   interrupted run with the same settings in the work folder ``OUTPUT.vsr-parts/``
   (:mod:`vsr.cluster.manifest`), whose done segments it keeps;
2. sends every segment not done, of every video, as a task to Ray (:mod:`vsr.cluster.ray_runner`);
   each task writes one part file into the work folder (:mod:`vsr.cluster.task`);
3. records each part in the manifest as it comes in, and as soon as a video's parts are all
   there joins them into its output (:mod:`vsr.cluster.join`), deleting the parts;
4. removes the work folders once every video is joined.

Rerunning the same command after a crash, Ctrl-C or a failed segment redoes only the segments
not done. A work folder made with other settings, or from a changed input, is refused (``-y``
starts afresh). On a cluster of several machines the inputs and the output folder must be on
storage every node sees at the same path: tasks read the source and write the parts there.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError, OutputError
from ..notices import print_warning
from ..files import check_target, claim_output, lock_path
from ..video.containers import Y4M
from ..video.encoder import choose_encoder, output_format
from .inputs import VideoPair, list_videos
from .join import join_parts
from .manifest import DONE, JOINED, Manifest
from .segments import plan_segments
from .settings import ClusterSettings
from .task import SegmentJob, SegmentOutcome

WORK_SUFFIX = ".vsr-parts"
_EARLIER_TASKS_WAIT_S = 30.0


@dataclass
class ClusterVideoResult:
    """One video of a cluster run: its output, frames, and how many segments this run did."""

    source: str
    target: str
    frames: int
    segments: int
    segments_run: int = 0
    segments_reused: int = 0
    notes: list[str] = field(default_factory=list)
    task_s: float = 0.0  # seconds the tasks of this run spent on its segments, summed
    join_s: float = 0.0


@dataclass
class ClusterResult:
    """What :func:`upscale_cluster` did, video by video, and where."""

    videos: list[ClusterVideoResult]
    cluster: str | None
    wall_s: float = 0.0
    hosts: list[str] = field(default_factory=list)  # the machines whose workers did segments

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    @property
    def segments_run(self) -> int:
        return sum(v.segments_run for v in self.videos)

    @property
    def segments_reused(self) -> int:
        return sum(v.segments_reused for v in self.videos)


def work_folder(target: Path) -> Path:
    """Where the parts and manifest of ``target``'s run live: ``TARGET.vsr-parts`` beside it."""
    return target.with_name(target.name + WORK_SUFFIX)


def _check_settings(settings: ClusterSettings, pairs: list[VideoPair]) -> None:
    """Fail before any work on settings no task could run with."""
    for pair in pairs:
        format_name = output_format(pair.target)
        if format_name == Y4M:
            raise ConfigError(f"{pair.target}: --cluster writes .mp4, .m4v, .mkv, .mov or .webm (parts are joined by stream copy), not y4m")
        choose_encoder(format_name, settings.codec, settings.crf, settings.preset)
    if settings.batch is not None and settings.batch < 1:
        raise ConfigError("--batch must be at least 1")
    if settings.threads is not None and settings.threads < 1:
        raise ConfigError("--threads must be at least 1")
    from ..models import load_model

    load_model(settings.model, settings.scale, settings.weights)


class _Video:
    """One video's run: its manifest, the segments this run did, and the join."""

    def __init__(self, number: int, pair: VideoPair, manifest: Manifest, reused: int):
        self.number, self.pair, self.manifest = number, pair, manifest
        self.result = ClusterVideoResult(str(pair.source), str(pair.target), 0, len(manifest.segments), segments_reused=reused, notes=list(manifest.notes))
        self.redone: list[str] = []  # why parts kept from before are not reused

    @property
    def joined(self) -> bool:
        return self.manifest.state == JOINED

    def ready(self) -> bool:
        return not self.joined and not self.manifest.pending()

    def jobs(self, settings: ClusterSettings) -> list[SegmentJob]:
        source = str(self.pair.source.resolve())
        return [
            SegmentJob(self.number, source, r.segment, str(self.manifest.part_path(r).resolve()), self.manifest.variable_rate, settings)
            for r in self.manifest.pending()
        ]

    def record(self, outcome: SegmentOutcome) -> None:
        self.manifest.mark_done(outcome.index, outcome.frames, outcome.size, outcome.sha256)
        self.manifest.save()
        self.result.segments_run += 1
        self.result.task_s += outcome.seconds

    def join(self, warn: Callable[[str], None]) -> None:
        start = time.perf_counter()
        manifest = self.manifest
        records = manifest.segments
        starts = None
        if all(r.segment.shown_from is not None for r in records):
            starts = [r.segment.shown_from * manifest.time_base for r in records]
        parts = [manifest.part_path(r) for r in records]
        target = self.pair.target
        joined = join_parts(self.pair.source, parts, target, output_format(target), [r.frames for r in records], starts, manifest.last_duration)
        if joined.notes:
            self.result.notes.extend(joined.notes)
            warn(f"{target}: " + "; ".join(joined.notes))
        manifest.state = JOINED
        manifest.notes = self.result.notes
        manifest.save()
        for part in parts:
            part.unlink(missing_ok=True)
        self.result.frames = joined.frames
        self.result.join_s = time.perf_counter() - start


def _wait_for_earlier_tasks(manifest: Manifest) -> None:
    """Wait until no task of an earlier run still writes a part of ``manifest``: Ray ends the
    tasks of a run that was stopped or killed a moment after it, and until then each holds its
    claim on its part file (see :mod:`vsr.files`). Checking the parts before that would race them."""
    deadline = time.monotonic() + _EARLIER_TASKS_WAIT_S
    for record in manifest.pending():
        part = manifest.part_path(record)
        while lock_path(part).exists():
            try:
                claim_output(part).release()
                break
            except OutputError as exc:
                if time.monotonic() > deadline:
                    raise OutputError(f"{exc} (a task of an earlier run, still ending after {_EARLIER_TASKS_WAIT_S:.0f} s)") from None
                time.sleep(0.1)


def _open_video(number: int, pair: VideoPair, fingerprint: dict, overwrite: bool, frames: int | None, seconds: float | None) -> _Video:
    """Resume ``pair``'s run from its work folder, or plan it afresh."""
    work = work_folder(pair.target)
    if work.exists():
        try:
            manifest = Manifest.load(work)
        except OutputError:
            if not overwrite:
                raise
            manifest = None
        if manifest is not None and manifest.matches(fingerprint, str(pair.source)):
            if manifest.state == JOINED and pair.target.exists():  # done: nothing to check or redo
                video = _Video(number, pair, manifest, 0)
                video.result.frames = sum(r.frames or 0 for r in manifest.segments)
                return video
            if manifest.state == JOINED:  # joined, then the output was removed: do it all again
                manifest.restart()
            _wait_for_earlier_tasks(manifest)
            redone = manifest.recheck_done()
            manifest.save()
            reused = sum(1 for r in manifest.segments if r.state == DONE)
            video = _Video(number, pair, manifest, reused)
            video.redone = redone
            return video
        if not overwrite:
            raise OutputError(f"{work}: holds a run with other settings or of a changed input; rerun the same command, or add -y to start afresh")
        shutil.rmtree(work)
    check_target(pair.target, overwrite, str(pair.source))
    plan = plan_segments(pair.source, frames, seconds)
    try:
        work.mkdir()
    except OSError as exc:
        raise OutputError(f"{work}: cannot create the work folder ({exc.strerror or exc})") from None
    manifest = Manifest.create(work, fingerprint, str(pair.source), str(pair.target), plan, pair.target.suffix)
    manifest.save()
    return _Video(number, pair, manifest, 0)


def upscale_cluster(
    source: str | os.PathLike,
    target: str | os.PathLike,
    settings: ClusterSettings | None = None,
    address: str | None = "local",
    overwrite: bool = False,
    segment_frames: int | None = None,
    segment_seconds: float | None = None,
    *,
    warn: Callable[[str], None] | None = None,
    progress_bar: Callable[[int | None, int], object] | None = None,
    on_segment: Callable[[int, int], None] | None = None,
) -> ClusterResult:
    """Upscale a video, a folder of videos or a ``.txt`` list of them, segment by segment on Ray.

    ``settings``: model, backend and encoder (default: ESPCN x2, automatic backend, libx264);
    ``address``: ``local`` (start Ray here with this machine's cores), ``auto`` (the cluster this
    machine has joined with ``ray start``) or ``ray://HOST:PORT``; ``segment_frames`` or
    ``segment_seconds``: the length segments are cut to (default 60 s); ``warn`` gets each
    warning line; ``progress_bar(total_frames, frames_done_before)``, when given, makes the bar
    (``update(n)``, ``close()``; see :meth:`vsr.report.Reporter.progress`); ``on_segment(video, segment)`` is called after each segment is recorded done.

    Raises InputError, OutputError, ConfigError, WeightsError or ClusterError with a one-line
    message. After any failure or interruption the outputs not yet joined do not exist and the
    same call resumes the run.
    """
    # First, so that without Ray the one line saying how to install it comes before anything else.
    from .ray_runner import RayCluster

    start = time.perf_counter()
    settings = settings or ClusterSettings()
    if settings.weights is not None:
        # Tasks run in a folder of Ray's, on any node: a relative path would not name the file there.
        settings = replace(settings, weights=str(Path(settings.weights).resolve()))
    warn = warn or print_warning
    pairs, folder_output = list_videos(source, target)
    _check_settings(settings, pairs)
    if folder_output:
        Path(target).mkdir(parents=True, exist_ok=True)
    for pair in pairs:  # what can be refused is refused before connecting
        if not work_folder(pair.target).exists():
            check_target(pair.target, overwrite, str(pair.source))
    fingerprint = {**settings.fingerprint(), "segment_frames": segment_frames, "segment_seconds": segment_seconds}
    with ExitStack() as claims:
        # Held to the end: a second run into one of these outputs is refused at once instead of
        # mixing into this one's work folder; a claim also removes the temporary files that a
        # killed run left beside its output (a join cut short).
        for pair in pairs:
            claim = claims.enter_context(claim_output(pair.target))
            if claim.removed:
                names = ", ".join(p.name for p in claim.removed)
                warn(f"removed {len(claim.removed)} temporary file{'s' * (len(claim.removed) != 1)} of an earlier run that was killed ({names})")
        # Planning reads every input: a file that is not a video is refused here, before Ray starts.
        videos = [_open_video(n, pair, fingerprint, overwrite, segment_frames, segment_seconds) for n, pair in enumerate(pairs)]
        for video in videos:
            for note in video.manifest.notes if not video.joined else []:
                warn(note)
            for line in video.redone:
                warn(line)
        with RayCluster(address) as cluster:
            jobs = [job for video in videos if not video.joined for job in video.jobs(settings)]
            seen_warnings: set[str] = set()
            hosts: set[str] = set()

            def done(job: SegmentJob, outcome: SegmentOutcome) -> None:
                video = videos[job.video]
                hosts.add(outcome.host)
                video.record(outcome)
                for line in outcome.warnings:
                    if line not in seen_warnings:
                        seen_warnings.add(line)
                        warn(line)
                if on_segment is not None:
                    on_segment(job.video, job.segment.index)
                if video.ready():
                    video.join(warn)

            if jobs:
                total = sum(r.segment.packets for v in videos if not v.joined for r in v.manifest.segments)
                done_frames = sum(r.frames or 0 for v in videos if not v.joined for r in v.manifest.segments if r.state == DONE)
                cluster.run(jobs, done, total, done_frames, progress_bar)
            for video in videos:
                if video.ready():
                    video.join(warn)
            description = cluster.describe()
        for video in videos:
            shutil.rmtree(work_folder(video.pair.target), ignore_errors=True)
        return ClusterResult([v.result for v in videos], description, time.perf_counter() - start, sorted(hosts))
