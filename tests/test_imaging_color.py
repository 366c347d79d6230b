import numpy as np
import pytest

from vsr.imaging.color import rgb_to_y_bt601_uint8, rgb_to_ycbcr, ycbcr_to_rgb


def test_matlab_rgb2ycbcr_reference_values():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    # MATLAB rgb2ycbcr: Y = 16 + (65.481 R + 128.553 G + 24.966 B), R,G,B in [0, 1]
    assert rgb_to_y_bt601_uint8(rgb).tolist() == [[16, 235, 81, 145, 41]]


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full_range", [False, True])
def test_round_trip_and_grey_has_neutral_chroma(matrix, full_range):
    rng = np.random.default_rng(1)
    rgb = rng.random((5, 7, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb, matrix, full_range), matrix, full_range), rgb, atol=1e-12)
    grey = np.full((1, 1, 3), 0.5)
    ycc = rgb_to_ycbcr(grey, matrix, full_range)[0, 0]
    np.testing.assert_allclose(ycc[1:], 128 / 255)
    white = rgb_to_ycbcr(np.ones((1, 1, 3)), matrix, full_range)[0, 0, 0]
    assert white == pytest.approx(1.0 if full_range else 235 / 255)
