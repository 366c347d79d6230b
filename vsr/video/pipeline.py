"""``upscale_video``: decode -> super-resolve -> encode, concurrently, every frame kept.

Three stages run at once, joined by small bounded queues (:mod:`vsr.video.stage_threads`) so
memory stays flat however long the video is:

1. :mod:`~vsr.video.decode_stage`, on its own thread: demux, decode (PyAV), presentation order and
   timestamps, frame -> float planes; other streams' packets ride along with the next frame, so
   the writer muxes them in their original interleaving;
2. :mod:`~vsr.video.sr_stage` on the calling thread (the main thread under the CLI, so Ctrl-C
   arrives there): the model on batches of luma planes, or the device chain
   (:mod:`~vsr.video.chain_stage`) for a runner with a device step;
3. :mod:`~vsr.video.encode_stage`, on its own thread: chroma upscaling, output frames, encoding and
   muxing with the carried packets.

This module sets them up: the output is opened once the first frames are seen (size, layout,
frame rate), written to a hidden temporary file beside the target and renamed over it only when
complete; any error, or Ctrl-C, stops every stage and removes it. Each frame keeps its own pts and
duration (VFR stays VFR); the output has exactly as many frames as the input.
:class:`~vsr.video.stages.StageTimes` records the time of each stage for reports and benchmarks.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, InputError
from ..files import check_target, claim_output, commit, create_temp, own_parts, remove_temp
from ..notices import print_warning
from .chain_stage import QUEUE_FRAMES, ChainStage
from .chroma import ChromaUpscaler
from .containers import Y4M
from .cut import Cut, CutReader
from .decode_stage import DecodeStage, End, Picture, PictureFeed
from .encode_stage import FrameMaker, encode_pictures
from .encoder import Encoder, choose_encoder, choose_layout, output_format
from .ffmpeg_log import captured_ffmpeg_log
from .reader import VideoReader, sample_bits
from .sr_stage import super_resolve
from .stage_threads import POLL_S, Channel, Stopped, Worker
from .stages import StageTimes
from .writer import VideoSpec, VideoWriter

if TYPE_CHECKING:  # the pipeline takes any runner; importing the backends would import torch
    from ..backends.base import Runner

# Frames per model call when not given: a few small frames per call, one large one. The model's
# activations dominate memory (ESPCN: 64 float channels per input pixel, ~0.5 kB), so the budget is
# in input pixels: 500k is ~250 MB of activations; batching helps a GPU far more than a CPU.
_BATCH_PIXELS = 500_000
_MAX_AUTO_BATCH = 8
# Frames looked at before the encoder is set up, to tell constant from variable frame rate.
_LOOKAHEAD_FRAMES = 8
_REORDERING_ENCODERS = {"libx264", "libx265", "h264_nvenc", "hevc_nvenc"}
_JOIN_TIMEOUT_S = 5.0


@dataclass
class VideoResult:
    """What :func:`upscale_video` did: where, how many frames, how fast, what it had to change."""

    target: str
    frames: int
    codec: str
    pix_fmt: str
    width: int
    height: int
    notes: list[str] = field(default_factory=list)
    stages: StageTimes = field(default_factory=StageTimes)
    frames_in: int = 0  # decoded; equals frames unless a frame was lost, which is an error
    input_width: int = 0
    input_height: int = 0
    encoder: Encoder | None = None  # with the options it ran with (see Encoder.settings)

    @property
    def fps(self) -> float:
        return self.stages.fps()


def _is_variable_rate(pictures: list) -> bool:
    """True when the gaps between the first frames' timestamps differ by more than rounding."""
    times = [p.pts for p in pictures if isinstance(p, Picture)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    return bool(gaps) and max(gaps) - min(gaps) > 1


def _check_output(source: str, target: str, overwrite: bool, codec, crf, preset, container_format=None):
    format_name = output_format(target, container_format)
    encoder = choose_encoder(format_name, codec, crf, preset)
    if target != "-":
        check_target(Path(target), overwrite, source)
    return format_name, encoder


def check_video_job(
    source: str | os.PathLike,
    target: str | os.PathLike,
    overwrite: bool = False,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    container_format: str | None = None,
    cut: Cut | None = None,
) -> int | None:
    """Raise the error :func:`upscale_video` would raise for this input, output or encoder, without
    decoding a frame (stdin is not read: it can be read only once). Return the source's bits per
    sample, as its stream declares them (None for stdin, or a stream that declares no format)."""
    source, target = str(source), str(target)
    if cut is not None:
        cut.check()
    _check_output(source, target, overwrite, codec, crf, preset, container_format)
    if source == "-":
        return None
    with captured_ffmpeg_log() as log:
        reader = VideoReader(source, log)
        reader.container.close()
    return sample_bits(reader.info.pix_fmt)



def upscale_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    *,
    overwrite: bool = False,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    batch: int | None = None,
    container_format: str | None = None,
    cut: Cut | None = None,
    stages: StageTimes | None = None,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_bar: Callable[[int | None], object] | None = None,
    open_reader: Callable[[str, list], VideoReader] = VideoReader,
    variable_rate: bool | None = None,
) -> VideoResult:
    """Upscale the video ``source`` into ``target`` with ``runner``; ``-`` means stdin (any format
    FFmpeg probes) or stdout (``container_format``: y4m by default, or nut or matroska).

    ``codec``, ``crf``, ``preset``, ``pix_fmt``: encoder settings (see :mod:`vsr.video.encoder`);
    ``batch``: frames per model call (default: by frame size). ``cut``: process only part of the
    video (see :mod:`vsr.video.cut`); the output's timestamps then begin at zero.

    What the caller sees of the run: ``stages`` collects per-stage times; ``warn`` receives the
    one warning line, if any (default: printed to stderr); ``progress`` is called with 1 after
    each frame is written; ``progress_bar(total_frames)``, when given, makes a bar (an object with
    ``update(n)`` and ``close()``, e.g. :meth:`vsr.report.Reporter.progress`). The library draws
    no bar of its own.

    ``open_reader(source, log)`` opens the input (default :class:`VideoReader`; a cluster task
    passes one that reads a single segment of the file). ``variable_rate`` says whether the video
    has a variable frame rate, which decides B-frames for MP4/MOV (see :meth:`_Job._read_ahead`);
    by default it is judged from the first frames, which a caller that encodes a file in parts
    must do once for the whole file so that every part is encoded alike.

    Raises InputError, OutputError or ConfigError with a one-line message; on any error or
    interruption nothing is left at ``target``.
    """
    if batch is not None and batch < 1:
        raise ConfigError("--batch must be at least 1")
    if cut is not None:
        if open_reader is not VideoReader:
            raise ConfigError("a cut (--start, --duration, --frames) cannot go with a reader of its own (e.g. a cluster segment)")
        open_reader = partial(CutReader, cut=cut.check())
    source, target = str(source), str(target)
    format_name, encoder = _check_output(source, target, overwrite, codec, crf, preset, container_format)
    warn = warn or print_warning
    job = _Job(_JobOptions(
        source=source, target=target, runner=runner, format_name=format_name, encoder=encoder, pix_fmt=pix_fmt,
        batch=batch, stages=stages or StageTimes(), warn=warn, progress=progress,
        progress_bar=progress_bar, open_reader=open_reader, variable_rate=variable_rate, overwrite=overwrite,
    ))
    if target == "-":
        with captured_ffmpeg_log() as log:
            return job.run(log)
    # Held to the end: a second run into the same target is refused, not silently replaced.
    with claim_output(target) as claim:
        if claim.removed:
            warn(f"removed {_stale_note(claim.removed)}")
        check_target(Path(target), overwrite, source)  # again: the target may have appeared since the first check
        with captured_ffmpeg_log() as log:
            return job.run(log)


def _stale_note(removed: list[Path]) -> str:
    files = "file" if len(removed) == 1 else "files"
    return f"{len(removed)} temporary {files} of an earlier run that was killed ({', '.join(p.name for p in removed)})"


@dataclass(frozen=True)
class _JobOptions:
    """Everything one run of the pipeline is told by its caller (see :func:`upscale_video`)."""

    source: str
    target: str
    runner: Runner
    format_name: str
    encoder: Encoder
    pix_fmt: str | None
    batch: int | None
    stages: StageTimes
    warn: Callable[[str], None]
    progress: Callable[[int], None] | None
    progress_bar: Callable[[int | None], object] | None
    open_reader: Callable[[str, list], VideoReader]
    variable_rate: bool | None
    overwrite: bool


class _Job:
    """One run of the pipeline: it starts the stages (decode_stage, sr_stage or the device chain,
    encode_stage), sets the output up from the first frames, and cleans up after a failure."""

    def __init__(self, options: _JobOptions):
        self.options = options
        # Settled once the first frames are seen: the batch by frame size, the encoder without
        # B-frames for variable-rate MP4/MOV (see _read_ahead).
        self.batch, self.encoder = options.batch, options.encoder
        self.stop = threading.Event()
        self.workers: list[Worker] = []
        self.reader = self.writer = self.bar = None
        self.temp: Path | None = None

    # -- orchestration -------------------------------------------------------------------------

    def run(self, log: list) -> VideoResult:
        start = time.perf_counter()
        try:
            result = self._run(log)
        except BaseException as exc:
            self.stop.set()
            alive = self._join_workers()
            self._discard(closing=not alive)
            error = next((w.error for w in self.workers if w.error is not None), None)
            if isinstance(exc, Stopped) and error is not None:
                raise error from None
            raise
        finally:
            if self.reader is not None and not any(w.is_alive() for w in self.workers):
                self.reader.close()
        self.options.stages.wall_s = time.perf_counter() - start
        return result

    def _join_workers(self) -> bool:
        for worker in self.workers:
            worker.join(_JOIN_TIMEOUT_S)
        return any(w.is_alive() for w in self.workers)

    def _discard(self, closing: bool) -> None:
        if self.bar is not None:
            self.bar.leave = False
            self.bar.close()
        if self.writer is not None and closing:
            self.writer.abort()
        remove_temp(self.temp)
        if self.options.target != "-":
            for part in own_parts(self.options.target):  # one made just before an interrupt, its name not kept yet
                remove_temp(part)

    def _start(self, name: str, work: Callable[[], None]) -> None:
        worker = Worker(name, work, self.stop)
        self.workers.append(worker)
        worker.start()

    def _raise_worker_error(self) -> None:
        for worker in self.workers:
            if worker.error is not None:
                raise worker.error

    def _run(self, log: list) -> VideoResult:
        options = self.options
        self.reader = options.open_reader(options.source, log)
        info = self.reader.info
        self.batch = self.batch or max(1, min(_MAX_AUTO_BATCH, _BATCH_PIXELS // max(1, info.width * info.height)))
        # A runner with a device step takes integer planes through the frame chain (chain_stage.py).
        chain = ChainStage(options.runner) if ChainStage.wanted(options.runner) else None
        depth = max(2 * self.batch, QUEUE_FRAMES) if chain is not None else 2 * self.batch
        decoded, upscaled = Channel(depth, self.stop), Channel(depth, self.stop)
        self.decoder = DecodeStage(self.reader, decoded, options.stages, codes=chain is not None)
        self._start("vsr-decode", self.decoder.run)
        feed = PictureFeed(decoded)
        self._read_ahead(feed)
        make_frame, notes = self._open_output(log, chain)
        if options.progress_bar is not None:
            self.bar = options.progress_bar(info.frames)
        self._start("vsr-encode", lambda: encode_pictures(upscaled.get, self.writer, make_frame, options.stages, self._frame_written))

        if chain is not None:
            layouts = (make_frame.in_layout, make_frame.out_layout, make_frame.upscaler)
            chain.run(feed.next, upscaled.put, lambda item: isinstance(item, End), layouts, options.stages.measure)
        else:
            super_resolve(feed, upscaled.put, options.runner, self.batch, options.stages)
        for worker in self.workers:
            while worker.is_alive():
                worker.join(POLL_S)  # short waits, so Ctrl-C is seen
        self._raise_worker_error()
        if self.bar is not None:
            self.bar.close()
        if self.temp is not None:
            commit(self.temp, options.target, options.overwrite)
            self.temp = None
        self._warn_about_input()
        first = self.decoder.first
        return VideoResult(
            target=options.target,
            frames=self.writer.frames_written,
            codec=self.encoder.name,
            pix_fmt=make_frame.out_layout.pix_fmt,
            width=self.writer.spec.width,
            height=self.writer.spec.height,
            notes=notes,
            stages=options.stages,
            frames_in=self.decoder.frames_decoded,
            input_width=first.width,
            input_height=first.height,
            encoder=self.encoder,
        )

    def _frame_written(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
        if self.options.progress is not None:
            self.options.progress(1)

    def _warn_about_input(self) -> None:
        """What was repaired in the input, said once the output is safe."""
        retimed = self.decoder.timestamps.retimed
        if retimed:
            self.options.warn(f"{retimed} frames had no usable timestamp and were placed just after the previous one")
        damaged = getattr(self.reader, "frames_damaged", 0)
        if damaged:
            self.options.warn(f"{damaged} of {self.reader.frames_read} frames had decode errors (damaged input); the decoder concealed them as it could")

    def _read_ahead(self, feed: PictureFeed) -> None:
        """Wait for the first frames: the output is set up from them (size, format, frame rate)."""
        lookahead = feed.read_ahead(_LOOKAHEAD_FRAMES)
        if isinstance(lookahead[0], End):
            self.workers[0].join()
            self._raise_worker_error()
            raise InputError(f"{self.reader.name}: the video stream has no frames")
        variable = self.options.variable_rate if self.options.variable_rate is not None else _is_variable_rate(lookahead)
        if variable and self.options.format_name in ("mp4", "mov") and self.encoder.name in _REORDERING_ENCODERS:
            # MP4 times samples by decode-time deltas; with B-frames the encoder's DTS trail the
            # PTS by a number of *frames*, which for uneven gaps makes the track shorter than the
            # video in FFmpeg-based players. Without reordering, DTS = PTS and every gap is kept.
            self.encoder = replace(self.encoder, options={**self.encoder.options, "bf": "0"})

    def _open_output(self, log: list, chain: ChainStage | None) -> tuple[FrameMaker, list[str]]:
        """Choose the output layout, open the writer (temporary file) and the chroma upscaler."""
        info, facts, s = self.reader.info, self.decoder.first, self.options.runner.scale
        out_w, out_h = s * facts.width, s * facts.height
        in_layout = facts.plan.layout
        rgb = facts.plan.rgb_read is not None
        out_layout, note = choose_layout(self.encoder, in_layout, out_w, out_h, self.options.pix_fmt, self.options.format_name, rgb_source=rgb)
        spec = VideoSpec(
            width=out_w,
            height=out_h,
            layout=out_layout,
            time_base=info.time_base,
            frame_rate=info.frame_rate,
            color_primaries=facts.color_primaries,
            color_trc=facts.color_trc,
            colorspace=facts.plan.colorspace,
            color_range=facts.plan.color_range,
            sample_aspect_ratio=info.sample_aspect_ratio,
            display_matrix=facts.display_matrix,
        )
        if self.options.target == "-":
            file, name = sys.stdout.buffer, "stdout"
        else:
            self.temp = create_temp(Path(self.options.target))
            file, name = str(self.temp), self.options.target
        self.writer = VideoWriter(file, self.options.format_name, self.encoder, spec, source=self.reader, log=log, name=name)
        notes = ([note] if note else []) + self.writer.notes
        if notes:
            self.options.warn("; ".join(notes))
        upscaler = None
        if not in_layout.is_grey and not out_layout.is_grey:
            out_siting = "center" if self.options.format_name == Y4M else "left"
            upscaler = ChromaUpscaler(s, in_layout.chroma_shift, out_layout.chroma_shift, info.chroma_siting, out_siting)
        return FrameMaker(in_layout, out_layout, upscaler, chain.release if chain is not None else None), notes
