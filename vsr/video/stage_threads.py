"""The threads and bounded queues that join the pipeline's stages, and how one failure stops all.

Every wait polls a shared stop event, so when one stage fails (or the job is interrupted) the
others give up within :data:`POLL_S` instead of blocking on a queue nobody will serve.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

POLL_S = 0.1


class Stopped(Exception):
    """Raised inside a stage when another stage failed or the job was interrupted."""


class Channel:
    """A bounded queue whose waits give up as soon as the job is stopping."""

    def __init__(self, size: int, stop: threading.Event):
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item) -> None:
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                self._queue.put(item, timeout=POLL_S)
                return
            except queue.Full:
                pass

    def get(self):
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                return self._queue.get(timeout=POLL_S)
            except queue.Empty:
                pass

    def get_nowait(self):
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


class Worker(threading.Thread):
    """A stage on its own thread; its error is kept for the main thread, which raises it, and
    sets the stop event so the other stages end."""

    def __init__(self, name: str, work: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._work, self._stop_event = work, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except Stopped:
            pass
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self._stop_event.set()
