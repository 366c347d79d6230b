"""vsr.video.frames: decoded frames <-> float planes, for every layout vsr reads."""
import av
import numpy as np
import pytest

from tests.video_clips import planes_for, rgb_frame
from vsr.errors import InputError
from vsr.imaging.color import rgb_to_ycbcr
from vsr.video.frames import PixelLayout, make_frame, plan_input, read_planes


def plane(frame, index):
    p = frame.planes[index]
    dtype = np.dtype(np.uint8) if frame.format.components[0].bits <= 8 else np.dtype("<u2")
    return np.frombuffer(p, dtype).reshape(p.height, -1)[:, : p.width]


@pytest.mark.parametrize("name, bits, shift", [
    ("yuv420p", 8, (1, 1)), ("yuv422p10le", 10, (1, 0)), ("yuv444p12le", 12, (0, 0)), ("gray", 8, None), ("gray10le", 10, None),
])
def test_layout_names_round_trip(name, bits, shift):
    layout = PixelLayout.from_pix_fmt(name)
    assert (layout.bits, layout.chroma_shift, layout.pix_fmt) == (bits, shift, name)


@pytest.mark.parametrize("name", ["rgb24", "nv12", "yuv420p10be", "yuva420p", "yuv411p", "yuv420p8le"])
def test_layout_refuses_names_it_cannot_write(name):
    assert PixelLayout.from_pix_fmt(name) is None


def test_normalisation_follows_h273_so_bit_depths_agree():
    # Limited range: 10-bit codes are 8-bit codes x 4; full range: codes / (2**bits - 1).
    assert PixelLayout(8, (1, 1)).scale == 255 and PixelLayout(10, (1, 1)).scale == 1020
    assert PixelLayout(10, (1, 1), full_range=True).scale == 1023
    assert PixelLayout(8, (1, 1)).chroma_size(7, 5) == (4, 3)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le", "yuv444p10le", "gray10le", "yuvj420p"])
@pytest.mark.parametrize("size", [(7, 5), (32, 24)])
def test_planes_round_trip_exactly(fmt, size):
    frame = planes_for(fmt, *size, index=1)
    plan = plan_input(frame)
    assert plan.reformat_to is None
    luma, chroma = read_planes(frame, plan)
    assert luma.dtype == np.float32 and luma.shape == (size[1], size[0])
    rebuilt = make_frame(luma, chroma, plan.layout)
    assert rebuilt.format.name == plan.layout.pix_fmt
    for index in range(len(rebuilt.planes)):
        np.testing.assert_array_equal(plane(rebuilt, index), plane(frame, index))


def test_full_range_is_detected_from_yuvj_and_from_the_tag():
    assert plan_input(planes_for("yuvj420p", 8, 8, 0)).layout.full_range
    frame = planes_for("yuv420p", 8, 8, 0)
    frame.color_range = 2
    assert plan_input(frame).layout.full_range
    frame.color_range = 1
    assert not plan_input(frame).layout.full_range


@pytest.mark.parametrize("packed, planar", [("nv12", "yuv420p"), ("p010le", "yuv420p10le"), ("yuyv422", "yuv422p"), ("yuv420p10be", "yuv420p10le")])
@pytest.mark.parametrize("size", [(16, 12), (720, 480)])
def test_packed_layouts_are_repacked_without_loss(packed, planar, size):
    # 720x480 P010 is where swscale's threaded path dropped a chroma row now and then: try a few.
    for index in range(5 if size[0] > 100 else 1):
        reference = planes_for(planar, *size, index)
        frame = reference.reformat(format=packed, threads=1)
        plan = plan_input(frame)
        assert plan.reformat_to == planar
        luma, chroma = read_planes(frame, plan)
        ref_luma, ref_chroma = read_planes(reference, plan_input(reference))
        np.testing.assert_array_equal(luma, ref_luma)
        np.testing.assert_array_equal(chroma, ref_chroma)


@pytest.mark.parametrize("colorspace, height, matrix, tag", [(1, 24, "bt709", 1), (5, 24, "bt601", 6), (2, 24, "bt601", 6), (2, 720, "bt709", 1)])
def test_rgb_uses_the_stream_matrix_and_says_which(colorspace, height, matrix, tag):
    frame, rgb = rgb_frame(32, height, 0)
    frame.colorspace = colorspace
    plan = plan_input(frame)
    assert (plan.rgb_matrix, plan.colorspace, plan.color_range, plan.layout.pix_fmt) == (matrix, tag, 1, "yuv444p")
    luma, chroma = read_planes(frame, plan)
    expected = rgb_to_ycbcr(rgb.astype(np.float64) / 255, matrix, full_range=False)
    np.testing.assert_allclose(luma, expected[:, :, 0], atol=1e-5)
    np.testing.assert_allclose(chroma, expected[:, :, 1:].transpose(2, 0, 1), atol=1e-5)


def test_planar_rgb_and_deep_rgb_are_read_as_rgb():
    frame, rgb = rgb_frame(8, 6, 3, fmt="gbrp")
    luma, _ = read_planes(frame, plan_input(frame))
    np.testing.assert_allclose(luma, rgb_to_ycbcr(rgb / 255.0, "bt601")[:, :, 0], atol=1e-5)
    deep = rgb_frame(8, 6, 3, fmt="gbrp10le")[0]
    assert plan_input(deep).layout.bits == 10 and plan_input(deep).rgb_read == "rgb48le"


@pytest.mark.parametrize("fmt, words", [("yuva420p", "alpha"), ("bayer_rggb8", "bayer"), ("rgba", "alpha")])
def test_formats_vsr_cannot_carry_are_refused_in_one_line(fmt, words):
    frame = av.VideoFrame(8, 8, fmt)
    with pytest.raises(InputError, match=words) as info:
        plan_input(frame, "clip.mkv")
    assert "\n" not in str(info.value) and str(info.value).startswith("clip.mkv: pixel format")


def test_grey_in_yuv_out_gets_neutral_chroma_and_rounding_is_clipped():
    luma = np.array([[-0.1, 0.5], [1.2, 0.25]], np.float32)
    frame = make_frame(luma, None, PixelLayout(10, (1, 1)))
    np.testing.assert_array_equal(plane(frame, 0), [[0, 510], [1023, 255]])
    assert plane(frame, 1).tolist() == [[512]] and plane(frame, 2).tolist() == [[512]]
