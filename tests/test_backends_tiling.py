"""vsr/backends/tiling.py: tiled frames equal untiled ones; out-of-memory halves the tile."""
from __future__ import annotations

import numpy as np
import pytest

from vsr.backends import OutOfMemory, TorchBackend, build_runner
from vsr.backends.footprint import receptive_radius
from vsr.backends.tiling import TiledRunner, plan_tiles


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(3).random((2, 41, 67), dtype=np.float32)


def test_espcn_receptive_radius_is_two_plus_one_plus_one(espcn):
    assert receptive_radius(espcn) == 4


def test_plan_covers_every_pixel_once_within_the_limit():
    for h, w, limit in [(41, 67, 500), (1080, 1920, 1_000_000), (4320, 7680, 2_000_000), (5, 3, 100)]:
        covered = np.zeros((h, w), int)
        for y0, y1, x0, x1 in plan_tiles(h, w, 4, limit):
            covered[y0:y1, x0:x1] += 1
            assert (min(h, y1 + 4) - max(0, y0 - 4)) * (min(w, x1 + 4) - max(0, x0 - 4)) <= limit
        assert (covered == 1).all()


@pytest.fixture(scope="module", params=["zeros", "replicate"])
def espcn_any_border(request, espcn):
    """The ``espcn`` fixture's parameters under each border convention."""
    from vsr.models import create_model

    model = create_model("espcn", 2, border=request.param)
    model.load_state_dict(espcn.state_dict())
    return model


@pytest.mark.parametrize("limit", [300, 700, 1500])
def test_tiled_equals_untiled_exactly_onnxruntime(espcn_any_border, frames, tmp_path, limit):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'vsr[onnx]')")
    from vsr.backends import OnnxRuntimeBackend

    espcn = espcn_any_border

    backend = OnnxRuntimeBackend(threads=2, cache_dir=tmp_path)
    whole = build_runner(espcn, backend).run(frames)
    tiled = build_runner(espcn, backend, max_tile_pixels=limit)
    np.testing.assert_array_equal(tiled.run(frames), whole)
    assert tiled.stats()["tiled_frames"] == 2


@pytest.mark.parametrize("limit", [300, 1500])
def test_tiled_equals_untiled_torch(espcn_any_border, frames, limit):
    espcn = espcn_any_border
    # oneDNN picks its convolution kernel by shape, so torch's tiles may differ in the last bit
    # (~1e-8); without oneDNN (torch.backends.mkldnn.enabled = False) they are bit-identical.
    whole = build_runner(espcn, TorchBackend()).run(frames)
    tiled = build_runner(espcn, TorchBackend(), max_tile_pixels=limit).run(frames)
    np.testing.assert_allclose(tiled, whole, atol=1e-6, rtol=0)


def test_batches_are_split_to_fit(espcn):
    frames = np.random.default_rng(4).random((5, 20, 30), dtype=np.float32)
    whole = build_runner(espcn, TorchBackend()).run(frames)
    runner = build_runner(espcn, TorchBackend(), max_tile_pixels=2 * 20 * 30)
    np.testing.assert_allclose(runner.run(frames), whole, atol=1e-6, rtol=0)
    assert runner.stats()["tiled_frames"] == 0


class RunsOutOfMemoryAbove:
    """A runner that raises OutOfMemory for calls over ``pixels``, like a small GPU."""

    def __init__(self, inner, pixels: int):
        self.inner, self.pixels = inner, pixels
        self.name, self.device, self.precision, self.scale = "fake", "cuda", "fp16", inner.scale
        self.calls = []

    def run(self, batch, out=None):
        self.calls.append(batch.shape)
        if batch.size > self.pixels:
            raise OutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.run(batch, out=out)


def test_out_of_memory_halves_the_tile_and_loses_no_frame(espcn, frames):
    whole = build_runner(espcn, TorchBackend()).run(frames)
    fake = RunsOutOfMemoryAbove(TorchBackend().build(espcn), pixels=900)
    runner = TiledRunner(fake, radius=4, max_pixels=10_000, min_pixels=64)
    np.testing.assert_allclose(runner.run(frames), whole, atol=1e-6, rtol=0)
    stats = runner.stats()
    assert stats["oom_retries"] >= 2 and stats["tile_pixels"] <= 900
    calls = len(fake.calls)
    runner.run(frames)  # the next batch starts at the smaller tile: no more failures
    assert all(n * h * w <= 900 for n, h, w in fake.calls[calls:])
