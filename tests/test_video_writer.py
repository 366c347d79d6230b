"""vsr.video.writer: container from extension, encoder options, pixel format choice."""
import pytest

from vsr.errors import ConfigError, OutputError
from vsr.video.frames import PixelLayout
from vsr.video.encoder import choose_encoder, choose_layout, output_format


@pytest.mark.parametrize("name, fmt", [("a.mp4", "mp4"), ("b.MKV", "matroska"), ("c.mov", "mov"), ("d.webm", "webm"), ("e.y4m", "yuv4mpegpipe"), ("-", "yuv4mpegpipe")])
def test_container_comes_from_the_extension(name, fmt):
    assert output_format(name) == fmt


@pytest.mark.parametrize("name", ["a.avi", "b.png", "noext"])
def test_unknown_extension_is_refused(name):
    with pytest.raises(OutputError, match="cannot write video with extension"):
        output_format(name)


def test_default_encoders_and_their_options():
    assert choose_encoder("mp4").name == "libx264"
    assert choose_encoder("webm").name == "libvpx-vp9"
    assert choose_encoder("yuv4mpegpipe").name == "wrapped_avframe"
    x264 = choose_encoder("matroska", "libx264", crf=18, preset="fast")
    assert x264.options == {"crf": "18", "preset": "fast"}
    vp9 = choose_encoder("webm", crf=30, preset="good")
    assert vp9.options == {"b": "0", "crf": "30", "deadline": "good"}
    assert "yuv420p10le" in choose_encoder("matroska", "libx265").pix_fmts


@pytest.mark.parametrize("fmt, codec, crf, preset, words", [
    ("yuv4mpegpipe", "libx264", None, None, "uncompressed"),
    ("yuv4mpegpipe", None, 20, None, "do not apply"),
    ("matroska", "nope", None, None, "unknown video encoder"),
    ("matroska", "aac", None, None, "not a video one"),
    ("webm", "libx264", None, None, "cannot hold libx264"),
    ("matroska", "ffv1", 10, None, "lossless"),
    ("matroska", "libx264", 60, None, "out of range"),
    ("matroska", "libx264", None, "warp", "not a libx264 preset"),
])
def test_impossible_encoder_settings_are_config_errors(fmt, codec, crf, preset, words):
    with pytest.raises(ConfigError, match=words):
        choose_encoder(fmt, codec, crf, preset)


def test_layout_is_the_inputs_when_the_encoder_takes_it():
    x265 = choose_encoder("matroska", "libx265")
    ten = PixelLayout(10, (1, 1))
    assert choose_layout(x265, ten, 64, 48) == (ten, None)


def test_ten_bit_falls_back_with_a_note_when_the_encoder_has_no_ten_bit():
    vp9 = choose_encoder("webm")
    if "yuv420p10le" in vp9.pix_fmts:
        pytest.skip("this libvpx has 10-bit")
    layout, note = choose_layout(vp9, PixelLayout(10, (1, 1)), 64, 48)
    assert layout.pix_fmt == "yuv420p" and "yuv420p10le written as yuv420p" in note


def test_odd_sizes_go_to_444_for_encoders_that_need_even_420():
    layout, note = choose_layout(choose_encoder("mp4"), PixelLayout(8, (1, 1)), 21, 15)
    assert layout.pix_fmt == "yuv444p" and "odd size" in note
    assert choose_layout(choose_encoder("matroska", "ffv1"), PixelLayout(8, (1, 1)), 21, 15)[0].pix_fmt == "yuv420p"


def test_grey_and_full_range_are_kept():
    layout, note = choose_layout(choose_encoder("mp4"), PixelLayout(8, None, True), 64, 48)
    assert (layout.pix_fmt, layout.full_range, note) == ("gray", True, None)


def test_requested_pixel_format_is_checked():
    x264 = choose_encoder("mp4")
    assert choose_layout(x264, PixelLayout(8, (1, 1)), 64, 48, "yuv444p10le")[0].pix_fmt == "yuv444p10le"
    for bad, words in [("rgb24", "vsr writes planar"), ("yuv420p12le", "cannot encode"), ("yuv420p", "odd size")]:
        with pytest.raises(ConfigError, match=words):
            choose_layout(x264, PixelLayout(8, (1, 1)), 21 if bad == "yuv420p" else 64, 48, bad)


def test_a_fractional_crf_reaches_x264_and_is_refused_where_the_encoder_takes_whole_numbers(tmp_path, cli):
    from tests.conftest import assert_cli_error
    from tests.video_clips import write_clip

    clip = write_clip(tmp_path / "in.mkv", frames=3, width=32, height=24)
    code, err = cli("upscale", clip, tmp_path / "out.mp4", "--crf", "20.5", "--backend", "torch")
    assert code == 0, err
    assert "libx264 crf=20.5 preset=medium" in err.splitlines()[-1]
    # x264 writes its settings into the stream (an SEI message): the fraction got there.
    assert b"crf=20.5" in (tmp_path / "out.mp4").read_bytes()
    assert_cli_error(cli("upscale", clip, tmp_path / "out.webm", "--crf", "30.5"), "libvpx-vp9 takes a whole number")
    with pytest.raises(SystemExit) as stop:  # argparse's own usage error
        cli("upscale", clip, tmp_path / "x.mp4", "--crf", "soft")
    assert stop.value.code == 2
    assert not (tmp_path / "out.webm").exists() and not (tmp_path / "x.mp4").exists()


def test_choosing_an_encoder_changes_nothing_in_the_process_environment(monkeypatch):
    import os

    from vsr.video.encoder import choose_encoder

    monkeypatch.delenv("SVT_LOG", raising=False)
    choose_encoder("matroska", "libsvtav1")  # checking a job is not opening an encoder
    assert "SVT_LOG" not in os.environ


@pytest.mark.parametrize("codec, ext, expected", [("libx264", ".mp4", "FRAME"), ("ffv1", ".mkv", None)])
def test_x264_threads_across_frames_as_ffmpeg_does(tmp_path, codec, ext, expected):
    # PyAV asks encoders for slice threads; x264 then cuts every frame into slices, unlike FFmpeg,
    # and its output varied from run to run. Other encoders keep PyAV's default.
    from fractions import Fraction

    import av
    import numpy as np

    from vsr.video.writer import VideoSpec, VideoWriter

    fmt = output_format(f"x{ext}")
    spec = VideoSpec(64, 48, PixelLayout.from_pix_fmt("yuv420p"), Fraction(1, 25), Fraction(25))
    writer = VideoWriter(str(tmp_path / f"out{ext}"), fmt, choose_encoder(fmt, codec), spec)
    default = av.CodecContext.create(codec, "w").thread_type.name
    assert writer.video.codec_context.thread_type.name == (expected or default)
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64), 16 + 40 * i, np.uint8), format="gray").reformat(format="yuv420p")
        writer.write(frame, i, 1)
    writer.close()
    with av.open(str(tmp_path / f"out{ext}")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3
