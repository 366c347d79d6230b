"""vsr/backends/guard.py: a non-finite reduced-precision frame is redone in fp32, and counted."""
from __future__ import annotations

import numpy as np
import torch

from vsr.backends import TorchBackend, build_runner
from vsr.backends.guard import NonFiniteGuard, finite_frames
from vsr.models import create_model


class OverflowsOnFrame:
    """Stands in for an fp16 runner whose output overflows on chosen frames."""

    def __init__(self, inner, bad_values):
        self.inner, self.bad_values = inner, bad_values
        self.name, self.device, self.precision, self.scale = "fake", "cpu", "fp16", inner.scale

    def run(self, batch, out=None):
        out = self.inner.run(batch, out=out)
        for i, value in enumerate(self.bad_values[: len(out)]):
            if value is not None:
                out[i, 3, 5] = value
        return out


def test_finite_frames_flags_nan_and_both_infinities():
    out = np.zeros((4, 8, 8), np.float32)
    out[1, 0, 0], out[2, 7, 7], out[3, 4, 4] = np.nan, np.inf, -np.inf
    assert finite_frames(out).tolist() == [True, False, False, False]


def test_bad_frames_are_recomputed_in_fp32_not_written_black():
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    frames = np.random.default_rng(5).random((3, 19, 23), dtype=np.float32)
    expected = build_runner(model, TorchBackend()).run(frames)
    fake = OverflowsOnFrame(TorchBackend().build(model), [None, np.inf, np.nan])
    guard = NonFiniteGuard(fake, lambda: TorchBackend(precision="fp32").build(model))
    out = guard.run(frames)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)
    assert guard.stats()["fp32_recomputed_frames"] == 2
    guard.run(frames[:1])
    assert guard.fp32_recomputed_frames == 2  # a clean frame costs no recompute


def test_reduced_precision_runners_are_guarded():
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    runner = build_runner(model, TorchBackend(precision="bf16"))
    frames = np.random.default_rng(6).random((1, 15, 17), dtype=np.float32)
    reference = build_runner(model, TorchBackend()).run(frames)
    np.testing.assert_allclose(runner.run(frames), reference, atol=4 / 255, rtol=0)
    assert runner.stats()["fp32_recomputed_frames"] == 0
