"""vsr/backends/torch_backend.py and torch_cuda.py: same output as the eager fp32 reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr.backends import TorchBackend, build_runner
from vsr.errors import ConfigError

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")


def reference(model, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.eval().float()(torch.from_numpy(batch)[:, None])[:, 0].numpy()


@pytest.fixture(scope="module")
def frames():
    # Odd sizes on purpose: nothing may assume even or aligned dimensions.
    return np.random.default_rng(1).random((3, 37, 53), dtype=np.float32)


@pytest.mark.parametrize("channels_last", [False, True])
def test_cpu_fp32_matches_reference(espcn, frames, channels_last):
    runner = build_runner(espcn, TorchBackend(channels_last=channels_last))
    out = runner.run(frames)
    assert out.shape == (3, 74, 106) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(espcn, frames), atol=1e-4, rtol=0)


def test_cpu_writes_into_given_output(espcn, frames):
    runner = build_runner(espcn, TorchBackend())
    out = np.full((3, 74, 106), np.nan, np.float32)
    assert runner.run(frames, out=out) is out
    np.testing.assert_allclose(out, reference(espcn, frames), atol=1e-4, rtol=0)


def test_model_passed_in_is_left_alone(espcn):
    before = {k: v.clone() for k, v in espcn.state_dict().items()}
    build_runner(espcn, TorchBackend(precision="bf16"))
    assert all(v.dtype == torch.float32 and torch.equal(v, before[k]) for k, v in espcn.state_dict().items())


def test_cpu_fp16_is_refused_with_a_reason(espcn):
    with pytest.raises(ConfigError, match="fp16 on CPU"):
        build_runner(espcn, TorchBackend(precision="fp16"))


@needs_cuda
@pytest.mark.parametrize("precision, atol", [("fp32", 1e-4), ("fp16", 2 / 255), ("bf16", 4 / 255)])
def test_cuda_matches_reference(espcn, precision, atol):
    # Several chunks of several frames: exercises the two-slot stream pipeline.
    frames = np.random.default_rng(2).random((9, 301, 403), dtype=np.float32)
    runner = build_runner(espcn, TorchBackend(device="cuda", precision=precision))
    np.testing.assert_allclose(runner.run(frames), reference(espcn, frames), atol=atol, rtol=0)
    assert runner.stats().get("fp32_recomputed_frames", 0) == 0


@needs_cuda
def test_cuda_graph_matches_eager(espcn, frames):
    eager = build_runner(espcn, TorchBackend(device="cuda", precision="fp16")).run(frames)
    graphed = build_runner(espcn, TorchBackend(device="cuda", precision="fp16", cuda_graph=True))
    for _ in range(2):  # capture, then replay
        np.testing.assert_allclose(graphed.run(frames), eager, atol=1e-3, rtol=0)


def test_ieee_fp32_turns_tf32_off_and_restores():
    """cuDNN allows TF32 for fp32 convolutions by default; the CUDA runner's fp32 forward runs
    inside ieee_fp32(), which must switch it off and put the caller's setting back."""
    from vsr.backends.torch_backend import ieee_fp32

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.allow_tf32 = matmul.allow_tf32 = True
    try:
        with ieee_fp32():
            assert (cudnn.allow_tf32, matmul.allow_tf32) == (False, False)
        assert (cudnn.allow_tf32, matmul.allow_tf32) == (True, True)
        with pytest.raises(RuntimeError):
            with ieee_fp32():
                raise RuntimeError("restored even on error")
        assert cudnn.allow_tf32 is True
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = before
