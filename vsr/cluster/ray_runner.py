"""Running segment tasks on Ray: the only module of vsr that imports ``ray``.

:class:`RayCluster` connects to a running cluster (``ADDRESS``: ``auto`` for the one this machine
belongs to, ``ray://HOST:10001`` for Ray Client), or starts a local Ray with this machine's cores
(``local``); within a process where Ray is already initialised it uses that one. :meth:`RayCluster.run`
submits every segment as a task (:func:`vsr.cluster.task.run_segment`) and hands each result to
the caller as soon as it is in, with one progress bar over the frames of all tasks.

Failures are told apart as Ray tells them apart. A *system* failure (the worker process died:
killed, out of memory, its node lost) is retried by Ray on any node, up to :data:`MAX_RETRIES`
times (``max_retries``); after that the run stops with a :class:`~vsr.errors.ClusterError`. An
*application* error raised by the task is not retried (``retry_exceptions=False``): a
:class:`~vsr.errors.VsrError` (a corrupt segment, an encoder that refuses the settings) fails the
run with its own message, and anything else with its type and first line. Either way the tasks
still running are cancelled; the parts already done stay done.

Resources: each task asks for ``threads`` CPUs (default 1) and uses that many inference threads;
it asks for one GPU when the settings name a GPU backend or device, or, with ``--backend auto``,
when the cluster has GPUs.

Tasks import the vsr installed where they run, whatever the driver's working directory: Ray puts
the driver's working directory first on its workers' ``sys.path`` (so that scripts' own modules
are found), where a folder named ``vsr`` (a checkout's parent, say) would shadow the package. The
job is given an empty ``working_dir`` instead, which Ray puts there in its place.

A local Ray started here is stopped when the ``with`` block ends, for any reason, and, through a
small watchdog process (:mod:`vsr.cluster.ray_reaper`), also when this process dies without
running any code (SIGKILL), where Ray's own fate sharing leaves its agents running for minutes.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from ..errors import ClusterError, ConfigError, VsrError

try:
    import ray
    import ray.exceptions
except ImportError:  # optional: pip install vsr[cluster]
    raise ConfigError("--cluster needs Ray: pip install 'vsr[cluster]'") from None

from ..backends.base import first_line
from . import ray_reaper
from .task import SegmentJob, SegmentOutcome, run_segment

#: How many times a segment whose worker died is run again (on any node) before the run stops.
MAX_RETRIES = 3
LOCAL = "local"
# Seconds between progress reports from a task, and between the driver's looks at them.
_REPORT_S = 0.5
_POLL_S = 0.5
_CONNECT_TIMEOUT_S = 10.0
_CANCEL_WAIT_S = 10.0
_KEPT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_SYSTEM_FAILURES = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.OutOfMemoryError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.OwnerDiedError,
)


@ray.remote(num_cpus=0)
class _Progress:
    """Frames done so far by each running task (the latest attempt's count)."""

    def __init__(self):
        self.frames: dict = {}

    def report(self, key, frames: int) -> None:
        self.frames[key] = frames

    def snapshot(self) -> dict:
        return dict(self.frames)


def _segment_task(job: SegmentJob, progress: ray.actor.ActorHandle) -> SegmentOutcome:
    done = [0, 0.0]  # frames, time of the last report

    def report(frames: int) -> None:
        done[0] += frames
        now = time.monotonic()
        if now - done[1] >= _REPORT_S:
            done[1] = now
            progress.report.remote(job.key, done[0])

    return run_segment(job, report)


_segment_remote = ray.remote(_segment_task)


class RayCluster:
    """A connection to Ray for the length of a ``with`` block (shut down only if started here)."""

    def __init__(self, address: str | None = LOCAL):
        self.address = address or LOCAL
        self._started = False
        self._reaper: subprocess.Popen | None = None

    def __enter__(self) -> RayCluster:
        if ray.is_initialized():
            return self
        options = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
        try:
            with tempfile.TemporaryDirectory(prefix="vsr-ray-job-") as empty, _keeping_signal_handlers():
                if _adds_working_directory(self.address):
                    options["runtime_env"] = {"working_dir": empty}  # uploaded by ray.init, not needed after
                if self.address == LOCAL:
                    # address="local": a new instance even where `ray start` runs one (RAY_ADDRESS too).
                    ray.init(address=LOCAL, num_cpus=os.cpu_count() or 1, **options)
                else:
                    _check_reachable(self.address)
                    ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ClusterError(f"cannot connect to the Ray cluster at {self.address}: {first_line(exc)}") from None
        self._started = True
        if self.address == LOCAL:
            self._reaper = _start_reaper()
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            ray.shutdown()
        if self._reaper is not None:
            try:
                self._reaper.communicate(ray_reaper.DONE, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._reaper.kill()

    def resources(self) -> dict:
        return ray.cluster_resources()

    def describe(self) -> str:
        found = self.resources()
        nodes = len([n for n in ray.nodes() if n.get("Alive")])
        gpus = int(found.get("GPU", 0))
        where = "local Ray" if self.address == LOCAL else f"Ray at {self.address}"
        return f"{where}: {nodes} node{'s' * (nodes != 1)}, {int(found.get('CPU', 0))} CPUs" + (f", {gpus} GPUs" if gpus else "")

    def task_options(self, job: SegmentJob, cluster_has_gpus: bool) -> tuple[dict, SegmentJob]:
        """Ray resources for ``job``, and the job with its thread count fixed to its CPUs."""
        settings = job.settings
        gpu = settings.wants_gpu()
        if gpu is None:
            gpu = cluster_has_gpus
        cpus = settings.threads or 1
        options = {"num_cpus": cpus, "num_gpus": 1 if gpu else 0, "max_retries": MAX_RETRIES, "retry_exceptions": False}
        return options, replace(job, settings=replace(settings, threads=cpus))

    def run(
        self,
        jobs: list[SegmentJob],
        on_done: Callable[[SegmentJob, SegmentOutcome], None],
        total_frames: int | None = None,
        done_frames: int = 0,
        progress_bar: Callable[[int | None, int], object] | None = None,
    ) -> None:
        """Run ``jobs`` as tasks; ``on_done(job, outcome)`` in this thread as each one finishes.

        Raises the first task's VsrError, or ClusterError; KeyboardInterrupt passes through. In
        every case the tasks not finished are cancelled, and waited for (a few seconds at most).
        """
        progress = _Progress.remote()
        has_gpus = self.resources().get("GPU", 0) > 0
        refs = {}
        for job in jobs:
            options, job = self.task_options(job, has_gpus)
            refs[_segment_remote.options(**options).remote(job, progress)] = job
        bar = progress_bar(total_frames, done_frames) if progress_bar is not None else None
        shown = done_frames  # what the bar says: frames of finished tasks and of running ones
        finished: set = set()
        pending = list(refs)
        try:
            while pending:
                # Waiting is done here, in Python, not inside ray.wait: a signal handler's exception
                # raised inside Ray's blocking calls comes out as a plain KeyboardInterrupt, which
                # would make SIGTERM (the CLI's Terminated) look like Ctrl-C.
                time.sleep(_POLL_S)
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                for ref in ready:
                    job = refs[ref]
                    outcome = _result(ref, job)
                    finished.add(job.key)
                    done_frames += outcome.frames
                    on_done(job, outcome)
                if bar is not None:
                    running = ray.get(progress.snapshot.remote())
                    now = done_frames + sum(n for key, n in running.items() if key not in finished)
                    if now > shown:  # a retried task starts again from zero: never go back
                        bar.update(now - shown)
                        shown = now
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if pending:
                # Cancelling kills the workers a moment later; until then they hold their parts'
                # claims, and a rerun started at once would find them taken.
                ray.wait(pending, num_returns=len(pending), timeout=_CANCEL_WAIT_S)
            if bar is not None:
                bar.close()
            ray.kill(progress)


@contextmanager
def _keeping_signal_handlers() -> Iterator[None]:
    """Put back this program's handlers of SIGTERM and SIGHUP after ``ray.init``: Ray's core
    replaces them with its own, which prints a stack dump and aborts, so ``kill`` or a closed
    terminal would skip every clean-up (the CLI handles them as Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():  # only it can have set them
        yield
        return
    kept = {sig: signal.getsignal(sig) for sig in _KEPT_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            if handler is not None:
                signal.signal(sig, handler)


def _adds_working_directory(address: str) -> bool:
    """Whether Ray would put this process's working directory on its workers' ``sys.path``: not
    for Ray Client (``ray://``), nor in a job submitted with its own runtime environment."""
    return not address.startswith("ray://") and "RAY_JOB_CONFIG_JSON_ENV_VAR" not in os.environ


def _start_reaper() -> subprocess.Popen | None:
    """The watchdog that stops the local Ray if this process dies (Linux); None where it cannot run."""
    # The node's processes (GCS, raylet, dashboard, monitors): Ray has no public call for them.
    node = getattr(ray._private.worker, "_global_node", None)
    processes = getattr(node, "all_processes", None) or {}
    pids = [info.process.pid for infos in processes.values() for info in infos if info.process is not None]
    if not sys.platform.startswith("linux") or not pids:
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-I", ray_reaper.__file__, *map(str, pids)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def _check_reachable(address: str) -> None:
    """ClusterError unless ``HOST:PORT`` (or ``ray://HOST:PORT``) accepts a connection: Ray itself
    retries an unreachable head for minutes, in C++ code that does not see Ctrl-C."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}") from None


def _result(ref, job: SegmentJob) -> SegmentOutcome:
    what = f"segment {job.segment.index} of {job.source}"
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, VsrError):
            raise cause from None
        raise ClusterError(f"{what} failed: {type(cause).__name__}: {first_line(cause)}") from None
    except _SYSTEM_FAILURES as exc:
        raise ClusterError(
            f"{what}: its worker was lost {MAX_RETRIES + 1} times ({first_line(exc)}); rerun the same command to resume"
        ) from None
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"{what}: {type(exc).__name__}: {first_line(exc)}") from None
