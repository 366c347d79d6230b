"""`vsr upscale - -` with containers that carry timestamps and sound through pipes (NUT, Matroska)."""
import pytest

from tests.conftest import assert_one_line_error, run_vsr
from tests.video_clips import probe, write_clip


@pytest.mark.parametrize("src_name, out_format", [("a.nut", "nut"), ("a.mkv", "matroska"), ("a.mkv", "nut")])
def test_a_pipe_in_any_probed_format_out_in_nut_or_matroska_keeps_timestamps_and_sound(tmp_path, src_name, out_format):
    src = write_clip(tmp_path / src_name, frames=6, width=32, height=24, audio="aac")
    result = run_vsr("upscale", "-", "-", "-f", out_format, "--backend", "torch", input=src.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr.decode().splitlines()[-1].startswith("vsr: wrote stdout: 6 -> 6 frames, 32x24 -> 64x48")
    out = tmp_path / f"out.{out_format}"
    out.write_bytes(result.stdout)
    got, want = probe(out), probe(src)
    assert got["format"].split(",")[0] == out_format
    assert (got["frames"], got["width"], got["height"]) == (6, 64, 48)
    # Every frame keeps its time. (NUT stores no negative timestamps, so its muxer may shift a whole
    # file by the encoder's B-frame delay, sound with it, as FFmpeg's own -f nut does.)
    shift = got["pts_s"][0] - want["pts_s"][0]
    assert [t - shift for t in got["pts_s"]] == pytest.approx(want["pts_s"], abs=1e-3)
    assert shift == 0 or out_format == "nut"
    audio_out = [s for s in got["streams"] if s["type"] == "audio"]
    audio_in = [s for s in want["streams"] if s["type"] == "audio"]
    assert len(audio_out) == 1 and audio_out[0]["payload_md5"] == audio_in[0]["payload_md5"]  # copied, not re-encoded


def test_formats_that_cannot_go_through_a_pipe_and_format_with_a_file_are_one_line(tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=2)
    line = assert_one_line_error(run_vsr("upscale", src, "-", "-f", "mp4"), "--format mp4 cannot be written to stdout")
    assert "nut or matroska" in line
    assert_one_line_error(run_vsr("upscale", src, tmp_path / "b.mkv", "-f", "nut"), "--format goes with - (stdout)")
    assert not (tmp_path / "b.mkv").exists()


def test_y4m_output_keeps_the_sample_aspect_ratio_in_a_file_and_through_a_pipe(tmp_path):
    from fractions import Fraction

    src = write_clip(tmp_path / "a.mkv", frames=2, sar=Fraction(4, 3))
    file_out = tmp_path / "b.y4m"
    assert run_vsr("upscale", src, file_out, "--backend", "torch").returncode == 0
    piped = run_vsr("upscale", src, "-", "--backend", "torch")
    assert piped.returncode == 0, piped.stderr.decode()
    (tmp_path / "c.y4m").write_bytes(piped.stdout)
    for out in (file_out, tmp_path / "c.y4m"):
        header = out.read_bytes().split(b"\n", 1)[0].split(b" ")
        assert b"A4:3" in header, header
        info = probe(out)
        assert (info["frames"], info["width"], info["sar"]) == (2, 64, Fraction(4, 3))
