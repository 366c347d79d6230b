"""Part of a video (vsr/video/cut.py): -ss/--start, -t/--duration, --frames, as FFmpeg's input options."""
import numpy as np
import pytest

from tests.conftest import assert_cli_error, assert_one_line_error, run_vsr
from tests.video_clips import RepeatRunner, luma_planes, probe, write_clip
from vsr.errors import ConfigError
from vsr.video import upscale_video
from vsr.video.cut import Cut, parse_time


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    # 50 frames at 25 fps (2 s), keyframes every 10 frames, with sound and subtitles.
    return write_clip(tmp_path_factory.mktemp("cut") / "a.mkv", frames=50, width=32, height=24, audio="aac", subtitles=True, gop=10)


def _expanded(plane, s=2):
    return np.repeat(np.repeat(plane, s, 0), s, 1)


def test_start_and_duration_keep_those_frames_from_zero_with_sound_and_subtitles_in_sync(tmp_path, clip):
    out = tmp_path / "b.mkv"
    result = upscale_video(clip, out, RepeatRunner(2), codec="ffv1", cut=Cut(0.5, 0.8))  # frames at 0.52..1.28 s: 13..32
    got, src = probe(out), probe(clip)
    assert result.frames == result.frames_in == got["frames"] == 20
    assert got["pts_s"] == pytest.approx([t - 0.5 for t in src["pts_s"][13:33]], abs=1e-3)
    ins, outs = luma_planes(clip), luma_planes(out)
    np.testing.assert_array_equal(outs[0], _expanded(ins[13]))
    np.testing.assert_array_equal(outs[-1], _expanded(ins[32]))
    audio = next(s for s in got["streams"] if s["type"] == "audio")
    assert -0.03 <= audio["start_s"] <= 0.05 and audio["end_s"] <= 0.8 + 0.05
    source_audio = next(s for s in src["streams"] if s["type"] == "audio")
    assert 0 < audio["packets"] < source_audio["packets"]


def test_frames_counts_from_the_start_and_reads_no_further(tmp_path, clip):
    result = upscale_video(clip, tmp_path / "b.mp4", RepeatRunner(2), cut=Cut(frames=5))
    assert result.frames == 5 and probe(tmp_path / "b.mp4")["pts_s"][0] == pytest.approx(0.0)
    result = upscale_video(clip, tmp_path / "c.mkv", RepeatRunner(2), codec="ffv1", cut=Cut(1.0, 10.0, frames=4))
    assert result.frames == 4
    np.testing.assert_array_equal(luma_planes(tmp_path / "c.mkv")[0], _expanded(luma_planes(clip)[25]))


def test_a_cut_through_a_pipe_reads_through_instead_of_seeking(tmp_path):
    y4m = write_clip(tmp_path / "a.y4m", frames=12, width=16, height=16)
    result = run_vsr("upscale", "-", "-", "-ss", "0.2", "--frames", "3", "--backend", "torch", input=y4m.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    (tmp_path / "o.y4m").write_bytes(result.stdout)
    np.testing.assert_array_equal(luma_planes(tmp_path / "o.y4m")[0].shape, (32, 32))
    assert probe(tmp_path / "o.y4m")["frames"] == 3


def test_a_cut_outside_the_video_or_an_empty_one_is_one_line(tmp_path, clip, cli):
    assert_one_line_error(run_vsr("upscale", clip, tmp_path / "b.mkv", "-ss", "5", "--backend", "torch"), "no video frames after 5 s")
    assert_cli_error(cli("upscale", clip, tmp_path / "b.mkv", "-t", "0"), "--duration must be more than 0")
    assert_cli_error(cli("upscale", clip, tmp_path / "b.mkv", "--frames", "0"), "--frames must be at least 1")
    assert not (tmp_path / "b.mkv").exists()
    with pytest.raises(ConfigError, match="--start must be 0 or more"):
        Cut(-1.0).check()


def test_times_are_read_as_ffmpeg_reads_them():
    assert parse_time("90") == 90 and parse_time("1:30") == 90 and parse_time("01:00:02.5") == 3602.5
    for bad in ("", "1::2", "a", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_time(bad)
