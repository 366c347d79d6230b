"""vsr/backends/side_by_side.py: single-threaded workers side by side give the one-session result."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from vsr.backends.base import OutOfMemory, output_for
from vsr.backends.side_by_side import SideBySideRunner
from vsr.models import create_model


class _Nearest:
    """A stand-in worker: nearest-neighbour x2, optionally waiting for its partner mid-call."""

    name, device, precision, scale = "fake", "cpu", "fp32", 2

    def __init__(self, barrier: threading.Barrier | None = None, error: Exception | None = None):
        self.barrier, self.error, self.calls = barrier, error, []

    def run(self, batch, out=None):
        self.calls.append(batch.shape)
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # only passes if the other worker runs at the same time
        if self.error is not None:
            raise self.error
        out = output_for(batch, 2, out)
        out[:] = batch.repeat(2, axis=1).repeat(2, axis=2)
        return out


def test_workers_run_at_the_same_time_on_frames_and_on_strips():
    barrier = threading.Barrier(2)
    workers = [_Nearest(barrier), _Nearest(barrier)]
    runner = SideBySideRunner(workers, radius=3)
    frames = np.random.default_rng(0).random((4, 10, 7), dtype=np.float32)
    np.testing.assert_array_equal(runner.run(frames), frames.repeat(2, axis=1).repeat(2, axis=2))
    assert [w.calls for w in workers] == [[(2, 10, 7)], [(2, 10, 7)]]  # two frames each

    for uneven in (frames[:1], frames[:3]):  # not shared out evenly by frames: by strips
        np.testing.assert_array_equal(runner.run(uneven), uneven.repeat(2, axis=1).repeat(2, axis=2))
        # Rows 0-4 and 5-9 of every frame, each with 3 rows of context where the frame has them.
        assert workers[0].calls[-1] == workers[1].calls[-1] == (len(uneven), 8, 7)


def test_a_workers_error_reaches_the_caller():
    runner = SideBySideRunner([_Nearest(), _Nearest(error=OutOfMemory("no room"))], radius=1)
    with pytest.raises(OutOfMemory, match="no room"):
        runner.run(np.zeros((1, 8, 8), np.float32))


def test_a_one_row_frame_goes_to_one_worker():
    workers = [_Nearest(), _Nearest()]
    out = SideBySideRunner(workers, radius=4).run(np.ones((1, 1, 5), np.float32))
    assert out.shape == (1, 2, 10) and len(workers[0].calls) + len(workers[1].calls) == 1


@pytest.mark.parametrize("border", ["zeros", "replicate"])
@pytest.mark.parametrize("shape", [(1, 29, 45), (1, 2, 9), (1, 9, 3), (3, 17, 31), (5, 8, 8)])
def test_onnxruntime_side_by_side_equals_one_session(tmp_path, shape, border):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'vsr[onnx]')")
    from vsr.backends import OnnxRuntimeBackend, build_runner
    from vsr.backends.onnxruntime import OnnxRuntimeSideBySide

    torch.manual_seed(1)
    model = create_model("espcn", 3, border=border)
    side_by_side = build_runner(model, OnnxRuntimeBackend(threads=2, cache_dir=tmp_path))
    one_session = build_runner(model, OnnxRuntimeBackend(threads=2, side_by_side=False, cache_dir=tmp_path))
    assert isinstance(side_by_side.inner, OnnxRuntimeSideBySide) and len(side_by_side.inner.workers) == 2
    frames = np.random.default_rng(2).random(shape, dtype=np.float32)
    np.testing.assert_array_equal(side_by_side.run(frames), one_session.run(frames))
