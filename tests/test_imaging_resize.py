import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_data
from vsr.imaging.resize import imresize


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_matches_matlab_lr_images(scale):
    folder = shared_data("eval", "matlab-lr", "Set5", f"x{scale}")
    total = within_one = exact = 0
    for hr_path in sorted((folder / "HR").glob("*.png")):
        hr = np.asarray(Image.open(hr_path))
        matlab_lr = np.asarray(Image.open(folder / "LR" / hr_path.name))
        ours = imresize(hr, 1.0 / scale)
        assert ours.shape == matlab_lr.shape
        diff = np.abs(ours.astype(int) - matlab_lr.astype(int))
        total += diff.size
        within_one += int((diff <= 1).sum())
        exact += int((diff == 0).sum())
    print(f"x{scale}: {exact / total:.4%} identical, {within_one / total:.5%} within 1 grey level, of {total} samples")
    assert within_one / total >= 0.999


def test_output_size_and_constant_image_is_kept():
    img = np.full((7, 5), 100, np.uint8)
    assert imresize(img, 3.0).shape == (21, 15)
    assert np.all(imresize(img, 3.0) == 100)
    assert np.all(imresize(img, 1 / 2) == 100)
    assert imresize(img, 1 / 2).shape == (4, 3)  # ceil, as MATLAB


def test_float_input_stays_float_and_unclipped():
    img = np.zeros((8, 8))
    img[4:, :] = 1.0
    up = imresize(img, 2.0)
    assert up.dtype == np.float64
    assert up.min() < 0 and up.max() > 1  # bicubic overshoot is kept for float


def test_upscaling_interpolates_known_values():
    # At x2, output pixel centres sit at +-0.25 input pixels; a linear ramp stays a ramp inside.
    ramp = np.tile(np.arange(10, dtype=np.float64), (4, 1))
    up = imresize(ramp, 2.0)
    np.testing.assert_allclose(up[0, 4:16], np.arange(4, 16) / 2.0 - 0.25, atol=1e-12)
