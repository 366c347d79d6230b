"""The pipeline's device path (vsr/video/chain_stage.py) run on the CPU: integer planes through the
frame chain with frames in flight give the same output file, byte for byte, as the float path.

On a GPU this path engages by itself (the torch CUDA and TensorRT runners have a device step);
here a CPU runner is given one, so everything but the CUDA streams runs: the proving first frame
on the float path, the ring (more frames than its depth), the encoder wrapping integer planes,
reused output arrays, the fp32 redo of a non-finite frame, RGB input staying on the float path.

The float path runs with ``batch=1``, as the chain does: torch's CPU convolutions may round the
last bit differently for a batch of 8 frames than for one, or for NCHW than for NHWC input (seen:
one 10-bit code in 9 frames), a property of the model's kernels, not of the chain, whose own
equality is shown in test_video_frame_chain.py. On CUDA the chain calls the runner's own forward.
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from tests.video_clips import write_clip
from vsr.backends import TorchBackend, build_runner
from vsr.models import load_model
from vsr.video import upscale_video
from vsr.video.chain_stage import DEPTH


class ChainCpuRunner:
    """A CPU runner with a device step, as the CUDA runners have: ``device_forward`` is the model."""

    def __init__(self, model, nan_frames: set[int] = frozenset()):
        self.inner = build_runner(model, TorchBackend())
        self.name, self.device, self.precision, self.scale = "torch", "cpu", "fp32", model.scale
        self.model = model
        self.run_calls = 0
        self.forward_calls = 0
        self.nan_frames = nan_frames

    def run(self, batch, out=None):
        self.run_calls += 1
        return self.inner.run(batch, out=out)

    def device_forward(self, x):
        self.forward_calls += 1
        cpu = self.inner.inner  # the TorchCpuRunner inside the tiler: its model, called as it calls it
        with torch.inference_mode():
            y = cpu.model(x.contiguous(memory_format=cpu._memory_format))
        if self.forward_calls in self.nan_frames:
            y = y.clone()
            y[:, :, 0, 0] = float("nan")
        return y


@pytest.fixture(scope="module")
def model():
    return load_model("espcn", 2).eval()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "name, options",
    [
        ("a.mkv", dict(width=38, height=22, pix_fmt="yuv420p")),
        ("a.mkv", dict(width=29, height=17, pix_fmt="yuv422p10le", codec="ffv1")),
        ("a.mkv", dict(width=27, height=15, pix_fmt="yuv444p", codec="ffv1")),
    ],
)
def test_chain_path_output_equals_float_path(tmp_path, model, name, options):
    frames = DEPTH + 5  # the ring fills, wraps and drains
    src = write_clip(tmp_path / name, frames=frames, **options)
    plain = upscale_video(src, tmp_path / "plain.y4m", build_runner(model, TorchBackend()), warn=lambda _: None, batch=1)
    runner = ChainCpuRunner(model)
    chained = upscale_video(src, tmp_path / "chain.y4m", runner, warn=lambda _: None)
    assert chained.frames == plain.frames == frames
    assert runner.run_calls == 1  # the proving first frame only
    assert runner.forward_calls == frames - 1  # every other frame went through the chain
    assert _digest(tmp_path / "chain.y4m") == _digest(tmp_path / "plain.y4m")


def test_non_finite_frame_is_redone_on_the_float_path(tmp_path, model):
    src = write_clip(tmp_path / "a.mkv", frames=7, width=30, height=20)
    upscale_video(src, tmp_path / "plain.y4m", build_runner(model, TorchBackend()), warn=lambda _: None, batch=1)
    runner = ChainCpuRunner(model, nan_frames={3})
    upscale_video(src, tmp_path / "chain.y4m", runner, warn=lambda _: None)
    assert runner.run_calls == 2  # the first frame, and the one whose chain output was NaN
    assert _digest(tmp_path / "chain.y4m") == _digest(tmp_path / "plain.y4m")


def test_rgb_input_stays_on_the_float_path(tmp_path, model):
    src = write_clip(tmp_path / "a.mkv", frames=5, width=24, height=16, rgb=True, pix_fmt="bgr0", codec="ffv1")
    upscale_video(src, tmp_path / "plain.y4m", build_runner(model, TorchBackend()), warn=lambda _: None, batch=1)
    runner = ChainCpuRunner(model)
    upscale_video(src, tmp_path / "chain.y4m", runner, warn=lambda _: None)
    assert runner.run_calls == 5 and runner.forward_calls == 0
    assert _digest(tmp_path / "chain.y4m") == _digest(tmp_path / "plain.y4m")


def test_out_of_memory_in_the_ring_falls_back_to_the_float_path(tmp_path, model):
    """A device out of memory while submitting a frame: the frames in flight are finished, the ring
    is dropped and the rest go frame by frame through runner.run (which tiles on OOM). Same file."""
    src = write_clip(tmp_path / "a.mkv", frames=9, width=30, height=20)
    upscale_video(src, tmp_path / "plain.y4m", build_runner(model, TorchBackend()), warn=lambda _: None, batch=1)

    class Exhausted(ChainCpuRunner):
        def device_forward(self, x):
            if self.forward_calls == 4:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().device_forward(x)

    runner = Exhausted(model)
    upscale_video(src, tmp_path / "chain.y4m", runner, warn=lambda _: None)
    assert runner.forward_calls == 4  # frames 2-5 went through the chain, frame 6's submit failed
    assert runner.run_calls == 1 + 4  # the proving frame, then frames 6-9 on the float path
    assert _digest(tmp_path / "chain.y4m") == _digest(tmp_path / "plain.y4m")
