"""vsr.video.chroma: bicubic chroma resampling with exact chroma siting."""
import numpy as np
import pytest

from vsr.imaging.resize import imresize
from vsr.video.chroma import ChromaUpscaler


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_centred_grid_matches_matlab_bicubic(scale):
    planes = np.random.default_rng(scale).random((2, 9, 7)).astype(np.float32)
    out = ChromaUpscaler(scale, (0, 0), (0, 0))(planes, (7 * scale, 9 * scale))
    reference = imresize(planes.transpose(1, 2, 0).astype(np.float64), scale=scale).transpose(2, 0, 1)
    np.testing.assert_allclose(out, reference, atol=1e-5)


@pytest.mark.parametrize("scale, in_shift, out_shift, size", [
    (2, (1, 1), (1, 1), (7, 5)), (3, (1, 1), (1, 1), (11, 8)), (3, (1, 1), (0, 0), (21, 15)), (2, (0, 0), (1, 1), (7, 5)), (2, (1, 0), (1, 0), (7, 10)),
])
def test_constant_chroma_stays_exactly_constant_at_any_size(scale, in_shift, out_shift, size):
    planes = np.full((2, 5, 4), 0.3, np.float32)
    planes[1] = 0.7
    out = ChromaUpscaler(scale, in_shift, out_shift)(planes, size)
    assert out.shape == (2, size[1], size[0])
    np.testing.assert_allclose(out[0], 0.3, atol=1e-6)
    np.testing.assert_allclose(out[1], 0.7, atol=1e-6)


def test_left_sited_chroma_lands_where_the_luma_is():
    # A chroma ramp whose value is its own position in input luma pixels (left siting: x = 2j).
    ramp = np.tile(2.0 * np.arange(8, dtype=np.float32), (1, 4, 1))
    out = ChromaUpscaler(2, (1, 1), (1, 1), "left", "left")(ramp, (16, 8))
    # Output chroma m sits at output luma 2m, i.e. input luma m - 1/4; the cubic is exact on a ramp.
    np.testing.assert_allclose(out[0, 0, 3:-3], np.arange(16, dtype=np.float32)[3:-3] - 0.25, atol=1e-5)


def test_siting_change_shifts_by_a_quarter_input_pixel():
    ramp = np.tile(np.arange(12, dtype=np.float32), (1, 4, 1))  # chroma index units
    left = ChromaUpscaler(2, (1, 1), (1, 1), "left", "left")(ramp, (24, 8))
    centre_in = ChromaUpscaler(2, (1, 1), (1, 1), "center", "left")(ramp, (24, 8))
    # Centre-sited input samples sit half a luma pixel (a quarter chroma sample) further right.
    np.testing.assert_allclose((left - centre_in)[0, :, 3:-3], 0.25, atol=1e-5)
