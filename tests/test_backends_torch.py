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


def test_threads_apply_to_the_runner_forward_only(frames):
    """threads=1 is the count inside the runner's forward; the process keeps its own count after
    the runner is built and after it runs (building used to call torch.set_num_threads)."""
    seen = []

    class Probe(torch.nn.Module):
        scale = 2

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    before = torch.get_num_threads()
    process = 2 if before == 1 else before  # a count that differs from the runner's 1
    torch.set_num_threads(process)
    try:
        runner = TorchBackend(threads=1).build(Probe())
        assert torch.get_num_threads() == process
        out = runner.run(frames)
        assert seen == [1]
        assert torch.get_num_threads() == process
        np.testing.assert_array_equal(out, np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2))
    finally:
        torch.set_num_threads(before)


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


# -- GPU tests that can fail on wrong output: the shipped weights (outputs span [0, 1], unlike the
# untrained model's, which peak near 0.01 so that even all zeros passes a bf16 tolerance), a PSNR
# floor against the CPU fp32 reference, and batches of more chunks than one.


@pytest.fixture(scope="module")
def shipped_x2():
    from vsr.models import load_model

    return load_model("espcn", 2).eval()


def _picture_frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """Smooth ramps plus texture: model outputs cover most of [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.1 + 0.8 * (0.5 + 0.5 * np.sin(6 * xx + 4 * yy))
    return np.clip(base[None] + rng.normal(0, 0.05, (n, h, w)), 0, 1).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.fixture(scope="module")
def many_chunks(shipped_x2):
    """More frames than two chunks and a partial one, with the CPU fp32 reference (computed once)."""
    from vsr.backends.torch_cuda import CudaPipeline

    h, w = 271, 367
    k = CudaPipeline.frames_per_chunk(h, w)
    frames = _picture_frames(2 * k + k // 2 + 1, h, w, seed=4)  # both slots, then a partial chunk
    return frames, reference(shipped_x2, frames)


@needs_cuda
@pytest.mark.parametrize("precision, min_psnr", [("fp32", 70.0), ("fp16", 45.0), ("bf16", 38.0)])
@pytest.mark.parametrize("cuda_graph", [False, True])
def test_cuda_shipped_weights_psnr_over_many_chunks(shipped_x2, many_chunks, precision, min_psnr, cuda_graph):
    frames, want = many_chunks
    n = len(frames)
    assert want.max() > 0.8 and want.min() < 0.2  # an all-zero output could not pass
    runner = build_runner(shipped_x2, TorchBackend(device="cuda", precision=precision, cuda_graph=cuda_graph))
    got = runner.run(frames)
    for i in range(n):
        assert _psnr(got[i], want[i]) >= min_psnr, (i, _psnr(got[i], want[i]))


@pytest.mark.parametrize(
    "device, precision, cuda_graph",
    [("cpu", "fp32", False)] + [pytest.param("cuda", "fp16", graph, marks=needs_cuda) for graph in (False, True)],
)
def test_alternating_batches_repeat_bit_identically(shipped_x2, device, precision, cuda_graph):
    """Two batches of different lengths alternate; every repeat equals the first result exactly
    (a slot or a graph replay reading a stale or overwritten buffer would show here)."""
    runner = build_runner(shipped_x2, TorchBackend(device=device, precision=precision, cuda_graph=cuda_graph))
    a, b = _picture_frames(7, 72, 96, seed=5), _picture_frames(3, 72, 96, seed=6)
    first_a, first_b = runner.run(a).copy(), runner.run(b).copy()
    for _ in range(10 if device == "cuda" else 3):
        np.testing.assert_array_equal(runner.run(a), first_a)
        np.testing.assert_array_equal(runner.run(b), first_b)


@needs_cuda
def test_cuda_fp32_is_not_tf32(shipped_x2):
    """fp32 on CUDA equals the CPU fp32 reference to float32 rounding, which TF32 (10-bit
    mantissas in every convolution) would miss by ~1e-3."""
    frames = _picture_frames(2, 96, 128, seed=7)
    got = build_runner(shipped_x2, TorchBackend(device="cuda", precision="fp32")).run(frames)
    np.testing.assert_allclose(got, reference(shipped_x2, frames), atol=1e-4, rtol=0)


@needs_cuda
def test_cuda_out_of_memory_is_tiled_not_fatal(shipped_x2):
    """Under an allocator cap a big frame runs out of memory; the tiler retries in smaller tiles."""
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    cap = 256 * 2**20
    torch.cuda.set_per_process_memory_fraction(cap / total)
    try:
        runner = build_runner(shipped_x2, TorchBackend(device="cuda", precision="fp32"), max_tile_pixels=4_000_000)
        frames = _picture_frames(1, 1080, 1920, seed=8)
        got = runner.run(frames)
        assert runner.stats()["oom_retries"] >= 1
        assert _psnr(got[0], reference(shipped_x2, frames)[0]) >= 70.0
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_frame_chain_matches_cpu_chain(shipped_x2, precision):
    """The frame chain on CUDA (through frames in flight, streams, pinned memory) against the same
    chain on the CPU: fp32 within one code (convolution order differs), fp16 by PSNR."""
    from vsr.video.chroma import ChromaUpscaler
    from vsr.video.frame_chain import FrameChain
    from vsr.video.frames import PixelLayout
    from vsr.video.frames_in_flight import FramesInFlight

    layout = PixelLayout(8, (1, 1))
    up = ChromaUpscaler(2, (1, 1), (1, 1))
    cuda_runner = TorchBackend(device="cuda", precision=precision).build(shipped_x2)
    gpu = FramesInFlight(FrameChain(cuda_runner.device_forward, 2, layout, layout, up, "cuda"), depth=3)
    cpu = FrameChain(shipped_x2, 2, layout, layout, up)
    rng = np.random.default_rng(9)
    frames = [((_picture_frames(1, 135, 241, seed=i)[0] * 219 + 16).astype(np.uint8), rng.integers(64, 192, (2, 68, 121), dtype=np.uint8)) for i in range(7)]
    (sh, sw), (ch, cw) = gpu.output_shapes(135, 241)
    results = []
    for y, c in frames:
        if gpu.full:
            ly, lc = np.empty((sh, sw), np.uint8), np.empty((2, ch, cw), np.uint8)
            results.append((gpu.collect(ly, lc), ly, lc))
        gpu.submit(y, c, tag=len(results) + len(gpu))
    while len(gpu):
        ly, lc = np.empty((sh, sw), np.uint8), np.empty((2, ch, cw), np.uint8)
        results.append((gpu.collect(ly, lc), ly, lc))
    for i, ((tag, finite), ly, lc) in enumerate(results):
        assert tag == i and finite
        want_y, want_c, _ = cpu(torch.from_numpy(frames[i][0][None]), torch.from_numpy(frames[i][1][None]))
        diff = np.abs(ly.astype(int) - want_y[0].numpy().astype(int))
        if precision == "fp32":
            assert diff.max() <= 1
        else:
            assert _psnr(ly / 255.0, want_y[0].numpy() / 255.0) >= 40.0
        assert np.abs(lc.astype(int) - want_c[0].numpy().astype(int)).max() <= 1  # chroma: no model


@needs_cuda
def test_cuda_graph_matches_eager(espcn, frames):
    eager = build_runner(espcn, TorchBackend(device="cuda", precision="fp16")).run(frames)
    graphed = build_runner(espcn, TorchBackend(device="cuda", precision="fp16", cuda_graph=True))
    for _ in range(2):  # capture, then replay
        np.testing.assert_allclose(graphed.run(frames), eager, atol=1e-3, rtol=0)


def test_ieee_fp32_turns_tf32_off_and_restores():
    """cuDNN allows TF32 for fp32 convolutions by default; the CUDA runner's fp32 forward runs
    inside ieee_fp32(), which must switch it off and put the caller's setting back."""
    from vsr.backends.torch_precision import ieee_fp32

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
