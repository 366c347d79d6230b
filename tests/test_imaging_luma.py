import numpy as np

from vsr.imaging.color import rgb_to_y_bt601_uint8, rgb_to_ycbcr
import pytest

from vsr.imaging.luma import (grey8_to_y8, luma_from_model, luma_to_model, rgb8_to_model_affine, y8_from_model, y8_to_grey8,
                              y8_to_model)
from vsr.video.frames import PixelLayout


def test_model_domain_maps_full_range_onto_bt601_limited_and_back():
    full = np.array([0.0, 0.5, 1.0], np.float32)
    mapped = luma_to_model(full, full_range=True)
    np.testing.assert_allclose(mapped * 255, [16, 125.5, 235], atol=1e-4)
    np.testing.assert_allclose(luma_from_model(mapped, True), full, atol=1e-6)
    assert luma_to_model(full, False) is full and luma_from_model(full, False) is full


def test_8_bit_codes_round_trip_through_the_model_range():
    codes = np.arange(256, dtype=np.uint8)
    floats = y8_to_model(codes)
    assert floats.dtype == np.float32 and floats[16] == np.float32(16 / 255) and floats[235] == np.float32(235 / 255)
    np.testing.assert_array_equal(y8_from_model(floats), codes)
    assert y8_from_model(np.array([-0.2, 1.3, 0.5 / 255, 1.5 / 255], np.float32)).tolist() == [0, 255, 0, 2]  # ties to even


def test_limited_range_video_of_any_depth_is_already_in_model_range():
    # H.273: 10-bit limited-range 64..940 normalises to the floats of 8-bit 16..235.
    ten = PixelLayout(10, (1, 1))
    floats = np.array([64, 940], np.float32) / np.float32(ten.scale)
    np.testing.assert_array_equal(luma_to_model(floats, ten.full_range), y8_to_model(np.array([16, 235])))


def test_rgb8_affine_is_the_bt601_limited_y_of_color_py():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    weights, offset = rgb8_to_model_affine()
    y = rgb @ weights + np.float32(offset)
    np.testing.assert_allclose(y, rgb_to_ycbcr(rgb / 255.0, "bt601", full_range=False)[:, :, 0], atol=1e-6)
    np.testing.assert_array_equal(y8_from_model(y), rgb_to_y_bt601_uint8(rgb))


def test_grey_levels_become_the_y_of_the_same_rgb_grey():
    grey = np.arange(256, dtype=np.uint8)
    y8 = grey8_to_y8(grey)
    assert y8[0] == 16 and y8[255] == 235
    np.testing.assert_array_equal(y8, rgb_to_y_bt601_uint8(np.repeat(grey[None, :, None], 3, axis=2))[0])


def test_every_limited_range_y_code_has_grey_levels_that_train_as_it():
    codes = np.arange(16, 236, dtype=np.uint8)
    np.testing.assert_array_equal(grey8_to_y8(y8_to_grey8(codes)), codes)
    with pytest.raises(ValueError, match="15-235"):
        y8_to_grey8(np.array([15, 235], np.uint8))


def test_a_packed_folder_gives_training_the_same_y_planes_in_fewer_bytes(tmp_path):
    """scripts/pack_luma.py: the data that travels to a lent GPU trains exactly as the source."""
    import subprocess
    import sys
    from pathlib import Path

    from vsr.imaging.image_io import Image, write_image
    from vsr.training.data import luma_uint8

    rng = np.random.default_rng(3)
    (tmp_path / "Train").mkdir()
    for i in range(2):
        write_image(Image(rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)), tmp_path / "Train" / f"im{i}.png")
    script = Path(__file__).resolve().parent.parent / "scripts" / "pack_luma.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "Train"), "--into", str(tmp_path / "pack")],
                   check=True, capture_output=True)
    for i in range(2):
        source, packed = tmp_path / "Train" / f"im{i}.png", tmp_path / "pack" / "Train" / f"im{i}.png"
        np.testing.assert_array_equal(luma_uint8(packed), luma_uint8(source))
        assert packed.stat().st_size < source.stat().st_size
