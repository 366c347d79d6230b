"""``upscale_video``: decode -> super-resolve -> encode, concurrently, every frame kept.

Three stages run at once, joined by small bounded queues so memory stays flat however long the
video is:

1. a *decode* thread demuxes and decodes (PyAV), and turns each frame into float planes
   (``to_tensor``); other streams' packets ride along with the next frame, so the writer muxes them
   in their original interleaving;
2. the calling thread runs the model on batches of luma planes (``sr``); it is the main thread
   under the CLI, so Ctrl-C arrives there and stops everything;
3. an *encode* thread upscales chroma, builds the output frame (``to_frame``), encodes and muxes it
   with the carried packets (``encode``), and updates the progress bar.

Each frame keeps its own pts and duration (VFR stays VFR); the output has exactly as many frames
as the input. (Files whose timestamps follow the packets rather than the pictures, such as AVI with
packed B-frames, get their own timestamps back in presentation order: see :mod:`vsr.video.timestamps`.) The output is written to a hidden temporary file beside the target and renamed over
it only when complete; any error, or Ctrl-C, removes it. :class:`~vsr.video.stages.StageTimes`
records the time of each stage for benchmarks.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import deque
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from ..errors import ConfigError, InputError
from ..notices import print_warning
from ..imaging.luma import luma_from_model, luma_to_model
from .chroma import ChromaUpscaler
from .ffmpeg_log import captured_ffmpeg_log
from .chain_stage import QUEUE_FRAMES, ChainStage
from .containers import Y4M
from .frames import InputPlan, PixelLayout, display_matrix, frame_from_codes, make_frame, output_tags, plan_input, read_codes, read_planes
from ..files import check_target, claim_output, commit, create_temp, remove_temp
from .cut import Cut, CutReader
from .reader import VideoReader
from .stages import StageTimes
from .timestamps import REORDER_WINDOW, TimestampOrder
from .encoder import Encoder, choose_encoder, choose_layout, output_format
from .writer import VideoSpec, VideoWriter

if TYPE_CHECKING:  # the pipeline takes any runner; importing the backends would import torch
    from ..backends.base import Runner

# Frames per model call when not given: a few small frames per call, one large one. The model's
# activations dominate memory (ESPCN: 64 float channels per input pixel, ~0.5 kB), so the budget is
# in input pixels: 500k is ~250 MB of activations; batching helps a GPU far more than a CPU.
_BATCH_PIXELS = 500_000
_MAX_AUTO_BATCH = 8
_POLL_S = 0.1
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


@dataclass
class _Picture:
    """One frame between stages: timing, planes (luma: model domain, chroma: normalised), packets."""

    index: int
    pts: int
    duration: int | None
    luma: np.ndarray
    chroma: np.ndarray | None
    packets: list
    codes: bool = False  # luma/chroma are integer code planes (the device chain's path: chain_stage.py)


@dataclass
class _End:
    packets: list


@dataclass
class _FirstFrame:
    plan: InputPlan
    width: int
    height: int
    color_primaries: int
    color_trc: int
    display_matrix: tuple[int, ...] | None


class _Stopped(Exception):
    """Raised inside a stage when another stage failed or the job was interrupted."""


class _Channel:
    """A bounded queue whose waits give up as soon as the job is stopping."""

    def __init__(self, size: int, stop: threading.Event):
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                pass

    def get(self):
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                pass

    def get_nowait(self):
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


class _Worker(threading.Thread):
    def __init__(self, name: str, work: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._work, self._stop_event = work, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self._stop_event.set()


def _is_variable_rate(pictures: list) -> bool:
    """True when the gaps between the first frames' timestamps differ by more than rounding."""
    times = [p.pts for p in pictures if isinstance(p, _Picture)]
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
) -> None:
    """Raise the error :func:`upscale_video` would raise for this input, output or encoder, without
    decoding a frame (stdin is not read: it can be read only once)."""
    source, target = str(source), str(target)
    if cut is not None:
        cut.check()
    _check_output(source, target, overwrite, codec, crf, preset, container_format)
    if source != "-":
        with captured_ffmpeg_log() as log:
            VideoReader(source, log).container.close()


def upscale_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    runner: Runner,
    overwrite: bool = False,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    batch: int | None = None,
    quiet: bool = False,
    container_format: str | None = None,
    cut: Cut | None = None,
    *,
    stages: StageTimes | None = None,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_bar: Callable[[int | None], object] | None = None,
    open_reader: Callable[[str, list], VideoReader] = VideoReader,
    variable_rate: bool | None = None,
) -> VideoResult:
    """Upscale the video ``source`` into ``target`` with ``runner``; ``-`` means stdin (any format
    FFmpeg probes) or stdout (``container_format``: y4m by default, or nut or matroska).

    ``codec``, ``crf``, ``preset``, ``pix_fmt``: encoder settings (see :mod:`vsr.video.writer`);
    ``batch``: frames per model call (default: by frame size); ``quiet``: no progress bar (it is
    shown only when stderr is a terminal anyway). ``stages`` collects per-stage times; ``warn``
    receives the one warning line, if any (default: printed to stderr); ``progress`` is called
    with 1 after each frame is written; ``progress_bar(total_frames)`` makes the bar (an object
    with ``update(n)`` and ``close()``; default: tqdm on stderr when it is a terminal). ``cut``: process only part of the video (see
    :mod:`vsr.video.cut`); the output's timestamps then begin at zero.

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
        batch=batch, quiet=quiet, stages=stages or StageTimes(), warn=warn, progress=progress,
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
    quiet: bool
    stages: StageTimes
    warn: Callable[[str], None]
    progress: Callable[[int], None] | None
    progress_bar: Callable[[int | None], object] | None
    open_reader: Callable[[str, list], VideoReader]
    variable_rate: bool | None
    overwrite: bool


class _Job:
    """The state of one run of the pipeline (threads, queues, files), and its cleanup."""

    def __init__(self, options: _JobOptions):
        self.options = options
        # Settled once the first frames are seen: the batch by frame size, the encoder without
        # B-frames for variable-rate MP4/MOV (see _read_ahead).
        self.batch, self.encoder = options.batch, options.encoder
        self.stop = threading.Event()
        self.workers: list[_Worker] = []
        self.reader = self.writer = self.bar = None
        self.temp: Path | None = None
        self.first: _FirstFrame | None = None
        self.timestamps = TimestampOrder()
        self.lookahead: list = []
        self.frames_out = 0
        self.chain: ChainStage | None = None

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
            if isinstance(exc, _Stopped) and error is not None:
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

    def _start(self, name: str, work: Callable[[], None]) -> None:
        worker = _Worker(name, work, self.stop)
        self.workers.append(worker)
        worker.start()

    def _raise_worker_error(self) -> None:
        for worker in self.workers:
            if worker.error is not None:
                raise worker.error

    def _run(self, log: list) -> VideoResult:
        self.reader = self.options.open_reader(self.options.source, log)
        info = self.reader.info
        self.batch = self.batch or max(1, min(_MAX_AUTO_BATCH, _BATCH_PIXELS // max(1, info.width * info.height)))
        # A runner with a device step takes integer planes through the frame chain (chain_stage.py).
        self.chain = ChainStage(self.options.runner) if ChainStage.wanted(self.options.runner) else None
        depth = max(2 * self.batch, QUEUE_FRAMES) if self.chain is not None else 2 * self.batch
        self.decoded = _Channel(depth, self.stop)
        self.upscaled = _Channel(depth, self.stop)
        self._start("vsr-decode", self._decode_loop)
        self._read_ahead()
        in_layout, out_layout, upscaler, notes = self._open_output(log)
        self._open_progress(info.frames)
        self._start("vsr-encode", lambda: self._encode_loop(in_layout, out_layout, upscaler))

        if self.chain is not None:
            self.chain.run(self._next_picture, self.upscaled.put, lambda item: isinstance(item, _End), (in_layout, out_layout, upscaler), self.options.stages.measure)
        else:
            self._super_resolve()
        for worker in self.workers:
            while worker.is_alive():
                worker.join(_POLL_S)  # short waits, so Ctrl-C is seen
        self._raise_worker_error()
        if self.bar is not None:
            self.bar.close()
        if self.temp is not None:
            commit(self.temp, self.options.target, self.options.overwrite)
            self.temp = None
        if self.timestamps.retimed:
            self.options.warn(f"{self.timestamps.retimed} frames had no usable timestamp and were placed just after the previous one")
        damaged = getattr(self.reader, "frames_damaged", 0)
        if damaged:
            self.options.warn(f"{damaged} of {self.reader.frames_read} frames had decode errors (damaged input); the decoder concealed them as it could")
        return VideoResult(
            target=self.options.target,
            frames=self.writer.frames_written,
            codec=self.encoder.name,
            pix_fmt=out_layout.pix_fmt,
            width=self.writer.spec.width,
            height=self.writer.spec.height,
            notes=notes,
            stages=self.options.stages,
            frames_in=self.frames_out,
            input_width=self.first.width,
            input_height=self.first.height,
            encoder=self.encoder,
        )

    def _read_ahead(self) -> None:
        """Wait for the first frames: the output is set up from them (size, format, frame rate)."""
        first = self.decoded.get()
        if isinstance(first, _End):
            self.workers[0].join()
            self._raise_worker_error()
            raise InputError(f"{self.reader.name}: the video stream has no frames")
        self.lookahead = [first]
        while len(self.lookahead) < _LOOKAHEAD_FRAMES and not isinstance(self.lookahead[-1], _End):
            self.lookahead.append(self.decoded.get())
        variable = self.options.variable_rate if self.options.variable_rate is not None else _is_variable_rate(self.lookahead)
        if variable and self.options.format_name in ("mp4", "mov") and self.encoder.name in _REORDERING_ENCODERS:
            # MP4 times samples by decode-time deltas; with B-frames the encoder's DTS trail the
            # PTS by a number of *frames*, which for uneven gaps makes the track shorter than the
            # video in FFmpeg-based players. Without reordering, DTS = PTS and every gap is kept.
            self.encoder = replace(self.encoder, options={**self.encoder.options, "bf": "0"})

    def _open_output(self, log: list):
        """Choose the output layout, open the writer (temporary file) and the chroma upscaler."""
        info, facts, s = self.reader.info, self.first, self.options.runner.scale
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
        return in_layout, out_layout, upscaler, notes

    def _open_progress(self, total: int | None) -> None:
        if self.options.quiet:
            return
        if self.options.progress_bar is not None:  # the caller's (the CLI's reporter)
            self.bar = self.options.progress_bar(total)
            return
        from tqdm import tqdm

        # disable=None: shown only on a terminal, so logs and pipes get no carriage-return noise.
        self.bar = tqdm(total=total, unit="frame", desc="upscale", file=sys.stderr, disable=None, dynamic_ncols=True)

    # -- stages --------------------------------------------------------------------------------

    def _decode_loop(self) -> None:
        reader, stages = self.reader, self.options.stages
        items = reader.items()
        packets: list = []
        # Frames wait here a moment for their timestamp: see _next_timestamp.
        window: deque = deque()
        while True:
            with stages.measure("decode"):
                item = next(items, None)
            if item is None:
                break
            if isinstance(item, av.Packet):
                packets.append(item)
                continue
            frame = item
            if self.first is None:
                plan = plan_input(frame, reader.name)
                primaries, trc, space, color_range = output_tags(frame, plan)  # untagged: what vsr assumed
                plan = replace(plan, colorspace=space, color_range=color_range)
                self.first = _FirstFrame(plan, frame.width, frame.height, primaries, trc, display_matrix(frame))
            elif (frame.width, frame.height) != (self.first.width, self.first.height):
                raise InputError(
                    f"{reader.name}: the picture size changes at frame {self.frames_out + len(window)} "
                    f"({self.first.width}x{self.first.height} -> {frame.width}x{frame.height}); not supported"
                )
            self.timestamps.add(frame.pts if frame.pts is not None else frame.dts)
            window.append((frame, packets))
            packets = []
            if len(window) > REORDER_WINDOW:
                self._emit(*window.popleft())
        while window:
            self._emit(*window.popleft())
        self.decoded.put(_End(packets))

    def _emit(self, frame: av.VideoFrame, packets: list) -> None:
        plan = self.first.plan
        codes = self.chain is not None and plan.rgb_read is None
        with self.options.stages.measure("to_tensor"):
            if codes:
                luma, chroma = read_codes(frame, plan)
            else:
                luma, chroma = read_planes(frame, plan)
                luma = luma_to_model(luma, plan.layout.full_range)
        duration = frame.duration or None
        pts = self.timestamps.take(duration)
        self.decoded.put(_Picture(self.frames_out, pts, duration, luma, chroma, packets, codes))
        self.frames_out += 1

    def _next_picture(self, wait: bool = True):
        if self.lookahead:
            return self.lookahead.pop(0)
        return self.decoded.get() if wait else self.decoded.get_nowait()

    def _super_resolve(self) -> None:
        runner, stages = self.options.runner, self.options.stages
        s = runner.scale
        while True:
            item = self._next_picture()
            if isinstance(item, _End):
                self.upscaled.put(item)
                return
            batch = [item]
            end = None
            while len(batch) < self.batch:
                more = self._next_picture(wait=False)
                if more is None:
                    break
                if isinstance(more, _End):
                    end = more
                    break
                batch.append(more)
            with stages.measure("sr"):
                out = runner.run(np.stack([p.luma for p in batch]))
            h, w = batch[0].luma.shape
            if out.shape != (len(batch), s * h, s * w):
                raise ConfigError(f"the {runner.name} runner returned {out.shape} for {len(batch)} frames of {w}x{h} at x{s}")
            for picture, luma in zip(batch, out):
                picture.luma = luma
                self.upscaled.put(picture)
            if end is not None:
                self.upscaled.put(end)
                return

    def _encode_loop(self, in_layout: PixelLayout, out_layout: PixelLayout, upscaler: ChromaUpscaler | None) -> None:
        writer, stages = self.writer, self.options.stages
        while True:
            item = self.upscaled.get()
            with stages.measure("encode"):
                for packet in item.packets:
                    writer.carry(packet)
            if isinstance(item, _End):
                with stages.measure("encode"):
                    writer.close()
                return
            if item.codes:  # rounded on the device already
                with stages.measure("to_frame"):
                    frame = frame_from_codes(item.luma, item.chroma, out_layout)
                self.chain.release(item)
            else:
                with stages.measure("to_frame"):
                    frame = self._float_frame(item, in_layout, out_layout, upscaler)
            with stages.measure("encode"):
                writer.write(frame, item.pts, item.duration)
            stages.frames += 1
            if self.bar is not None:
                self.bar.update(1)
            if self.options.progress is not None:
                self.options.progress(1)

    @staticmethod
    def _float_frame(item, in_layout: PixelLayout, out_layout: PixelLayout, upscaler: ChromaUpscaler | None) -> av.VideoFrame:
        """The output frame from float planes: luma back from the model's range, chroma upscaled."""
        luma = luma_from_model(item.luma, in_layout.full_range)
        chroma = None
        if upscaler is not None and item.chroma is not None:
            height, width = luma.shape
            chroma = upscaler(item.chroma, out_layout.chroma_size(width, height))
        return make_frame(luma, chroma, out_layout)
