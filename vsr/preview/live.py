"""The live loop: capture and super-resolution on their own threads, the newest frame wins.

The capture thread reads the source at its own pace and leaves each frame in a one-frame slot; the
super-resolution thread takes whatever frame is in the slot when it is free. A frame replaced
before it was taken is *skipped* and counted: a live view may skip, a file written by
``vsr upscale`` never does. Front ends (window, web page) ask for the newest composed picture with
:meth:`LivePreview.view` and forward the user's keys to :meth:`LivePreview.handle_key`.

What the keys change lives beside this module, one concern each: :mod:`.keys` (what a key does),
:mod:`.view_state` (layout, split line, status message), :mod:`.model_menu` (which model runs),
:mod:`.snapshot` (the PNG). All shared state, theirs included, is guarded by one condition
variable here, the one both threads and :meth:`LivePreview.view` wait on.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from ..backends.base import Runner
from ..errors import OutputError
from .compose import compose
from .frame_sr import FrameUpscaler
from .keys import handle_key
from .model_menu import ModelMenu, ModelRefused
from .snapshot import DEFAULT_SNAPSHOT_DIR, save_snapshot
from .sources import Source, SourceFrame
from .stats import PreviewStats, RateMeter
from .view_state import ViewState

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Result:
    bicubic: np.ndarray
    cnn: np.ndarray
    frame: SourceFrame
    model: str


class LivePreview:
    """A source super-resolved live by ``runner``.

    ``model`` names the runner's model; ``models`` are the names ``m`` cycles through, each made
    by ``load_runner(name)`` when first chosen (a model that fails to load, e.g. one without weights,
    is reported plainly, the current model stays, and ``m`` passes it over from then on). ``layout``
    is "side" or "split", ``split`` the line's position in [0, 1], and snapshots go to ``snapshot_dir``.
    """

    def __init__(
        self,
        source: Source,
        runner: Runner,
        model: str,
        load_runner: Callable[[str], Runner] | None = None,
        models: Sequence[str] = (),
        layout: str = "side",
        split: float = 0.5,
        snapshot_dir: str | Path = DEFAULT_SNAPSHOT_DIR,
    ):
        self.source = source
        self.snapshot_dir = Path(snapshot_dir)
        self._view = ViewState(layout, split)
        self._menu = ModelMenu(model, runner, load_runner, models)
        self._upscaler = FrameUpscaler(runner)

        # An RLock underneath (Condition's default), so a method holding it may call another that takes it.
        self._cond = threading.Condition()
        self._pending: SourceFrame | None = None  # the slot: newest captured frame not yet taken
        self._result: _Result | None = None
        self._seq = 0  # bumps with each finished picture
        self._view_cache: tuple[tuple[int, int], bool, np.ndarray] | None = None
        self._requested_model: str | None = None
        self._paused = False
        self._source_ended = False
        self._stopping = False
        self._finished = threading.Event()
        self._error: BaseException | None = None

        self._skipped = 0
        self._frames = 0
        self._sr_meter = RateMeter()
        self._capture_meter = RateMeter()
        self._threads = [
            threading.Thread(target=self._guard, args=(self._capture_loop,), name="vsr-preview-capture", daemon=True),
            threading.Thread(target=self._guard, args=(self._sr_loop,), name="vsr-preview-sr", daemon=True),
        ]

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> "LivePreview":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop both threads and close the source; safe to call more than once."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=5.0)
        # A capture thread still blocked in read() (a stalled stream) must not have its source
        # closed under it; it is a daemon thread and ends with the process.
        if not self._threads[0].is_alive():
            self.source.close()
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the preview is over: the source ended and its last frame shown, quit, or failed."""
        return self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def raise_error(self) -> None:
        """Re-raise, in the caller's thread, what stopped a worker thread (if anything did)."""
        if self._error is not None:
            raise self._error

    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # handed to the main thread by raise_error()
            self._error = exc
            self._finish()

    def _finish(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._finished.set()

    # --- the two threads ----------------------------------------------------------------------

    def _capture_loop(self) -> None:
        while True:
            with self._cond:
                # A file waits while paused; a camera keeps being drained, so it resumes on a fresh picture.
                while self._paused and not self.source.live and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            frame = self.source.read()
            with self._cond:
                if frame is None:
                    self._source_ended = True
                    self._cond.notify_all()
                    return
                if self._paused:
                    continue
                if self._pending is not None:
                    self._skipped += 1
                self._pending = frame
                self._capture_meter.tick(now=frame.captured_at)
                self._cond.notify_all()

    def _sr_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._pending is not None or self._requested_model or self._source_ended):
                    self._cond.wait()
                if self._stopping:
                    return
                if self._pending is None and not self._requested_model:
                    break  # source ended and every frame it gave is shown
                frame, self._pending = self._pending, None
                requested, self._requested_model = self._requested_model, None
            if requested:
                self._switch_model(requested)
                if frame is None and self._result is not None:
                    frame = self._result.frame  # paused: show the same picture through the new model
            if frame is None:
                continue
            bicubic, cnn = self._upscaler.upscale(frame.rgb)
            done = time.monotonic()
            with self._cond:
                self._result = _Result(bicubic, cnn, frame, self._menu.current)
                self._seq += 1
                self._frames += 1
                self._sr_meter.tick((done - frame.captured_at) * 1000.0, now=done)
                self._cond.notify_all()
        self._finish()

    def _switch_model(self, name: str) -> None:
        """On the SR thread: load ``name`` (outside the lock, it may take seconds) and run it from the
        next frame on, or say why it cannot run."""
        self.set_message(f"loading {name}")
        try:
            runner = self._menu.load(name, self._upscaler.scale)  # this thread alone replaces the upscaler
        except ModelRefused as refused:
            with self._cond:
                self.set_message(self._menu.refuse(refused))
            return
        with self._cond:
            self._upscaler = FrameUpscaler(runner)
            self._menu.choose(name)
            self.set_message("")

    # --- what front ends call -----------------------------------------------------------------

    def stats(self) -> PreviewStats:
        with self._cond:
            runner = self._upscaler.runner
            result = self._result
            in_size = (result.frame.rgb.shape[1], result.frame.rgb.shape[0]) if result else None
            out_size = (result.cnn.shape[1], result.cnn.shape[0]) if result else None
            return PreviewStats(
                fps=round(self._sr_meter.rate(), 2),
                source_fps=round(self._capture_meter.rate(), 2),
                latency_ms=round(self._sr_meter.mean(), 1),
                skipped=self._skipped,
                frames=self._frames,
                model=self._menu.current,
                backend=runner.name,
                device=runner.device,
                precision=runner.precision,
                scale=runner.scale,
                input_size=in_size,
                output_size=out_size,
                layout=self._view.layout,
                paused=self._paused,
                ended=self._source_ended,
                message=self._view.message,
                models=self._menu.models,
                unavailable_models=self._menu.unavailable,
            )

    def view(
        self, after: tuple[int, int] | None = None, timeout: float | None = None, status_overlay: bool = True
    ) -> tuple[tuple[int, int], np.ndarray] | None:
        """(key, picture) of the newest composed picture, once its key differs from ``after``.

        Blocks up to ``timeout`` seconds for one; None on timeout or when the preview is over.
        ``status_overlay`` draws the status line into the picture (a window has nowhere else to
        show it); a front end that shows :meth:`stats` itself turns it off, so there is one set.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                key = (self._seq, self._view.version)
                if self._result is not None and key != after:
                    break
                if self._finished.is_set() or self._stopping:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._view_cache is not None and self._view_cache[:2] == (key, status_overlay):
                return key, self._view_cache[2]
            result, layout, split, scale = self._result, self._view.layout, self._view.split, self._upscaler.scale
        status = self.stats().status_line() if status_overlay else ""
        picture = compose(result.bicubic, result.cnn, layout, split, labels=("bicubic", f"{result.model} x{scale}"), status=status)
        with self._cond:
            self._view_cache = (key, status_overlay, picture)
        return key, picture

    def handle_key(self, key: str) -> str:
        """Act on one of :data:`~vsr.preview.keys.KEYS`; returns what was done, for the front end to show or print."""
        return handle_key(self, key)

    def quit(self) -> None:
        self._finish()

    def toggle_pause(self) -> bool:
        with self._cond:
            self._paused = not self._paused
            if not self._paused:
                self.source.restart_clock()
            self._view.changed()  # the status line says "paused"
            self._cond.notify_all()
            return self._paused

    @property
    def model(self) -> str:
        """The model that runs now."""
        with self._cond:
            return self._menu.current

    def cycle_model(self) -> str:
        """Ask for the next model that has not failed to load; the current one if there is none
        (the status message then says why)."""
        with self._cond:
            name, why_not = self._menu.next_choice()
            if why_not:
                self.set_message(why_not)
            if name != self._menu.current:
                self._requested_model = name
                self._cond.notify_all()
            return name

    def set_message(self, text: str) -> None:
        """Show ``text`` in the status line, until the next message."""
        self._change_view(lambda view: view.set_message(text))

    def toggle_layout(self) -> str:
        return self._change_view(ViewState.toggle_layout)

    def set_split(self, split: float) -> float:
        """Put the split line at ``split`` x width (clamped to [0, 1]); ValueError if not a finite number."""
        return self._change_view(lambda view: view.set_split(split))

    def move_split(self, delta: float) -> float:
        return self._change_view(lambda view: view.move_split(delta))

    @property
    def layout(self) -> str:
        with self._cond:
            return self._view.layout

    def split_from_x(self, x: int, picture_width: int) -> float:
        """The split position for a click at column ``x`` of the composed picture."""
        return self._change_view(lambda view: view.split_from_x(x, picture_width))

    def _change_view(self, change: Callable[[ViewState], _T]) -> _T:
        # Under the lock, and waking view(): a new view version means a new picture to fetch.
        with self._cond:
            done = change(self._view)
            self._cond.notify_all()
            return done

    def snapshot(self) -> Path:
        """Save the newest bicubic and CNN halves side by side, without overlay, as a PNG."""
        with self._cond:
            result, scale = self._result, self._upscaler.scale
        if result is None:
            raise OutputError("no picture to save yet")
        path = save_snapshot(self.snapshot_dir, result.bicubic, result.cnn, result.model, scale)
        self.set_message(f"saved {path.name}")
        return path
