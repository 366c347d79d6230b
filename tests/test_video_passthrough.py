"""vsr.video.passthrough: audio, subtitles, chapters and metadata survive the upscale."""
from fractions import Fraction

import av
import pytest

from tests.video_clips import RepeatRunner, probe, write_clip
from vsr.video import upscale_video


def run(src, dst, **options):
    warnings = []
    upscale_video(src, dst, RepeatRunner(2), warn=warnings.append, **options)
    return probe(src), probe(dst), warnings


def stream(info, kind):
    return next(s for s in info["streams"] if s["type"] == kind)


@pytest.mark.parametrize("src_name, dst_name", [("a.mkv", "b.mp4"), ("a.mp4", "b.mkv"), ("a.mp4", "b.mov"), ("a.mkv", "b.mkv")])
def test_audio_is_copied_bit_exactly_in_sync(tmp_path, src_name, dst_name):
    src = write_clip(tmp_path / src_name, frames=10, audio="aac")
    a, b, warnings = run(src, tmp_path / dst_name)
    assert warnings == []
    sa, sb = stream(a, "audio"), stream(b, "audio")
    assert sb["codec"] == "aac" and sb["packets"] == sa["packets"] > 0
    assert sb["payload_md5"] == sa["payload_md5"]
    one_aac_frame_s = 1024 / 48000  # Matroska stores milliseconds, MP4 samples: spans differ by rounding
    assert sb["end_s"] - sb["start_s"] == pytest.approx(sa["end_s"] - sa["start_s"], abs=one_aac_frame_s)
    # Sync: every frame at the same time relative to the sound. (Matroska cannot store the
    # negative start of AAC priming, so its muxer shifts all streams alike.)
    assert [t - sb["start_s"] for t in b["pts_s"]] == pytest.approx([t - sa["start_s"] for t in a["pts_s"]], abs=2e-3)
    assert sb["metadata"].get("language") == "fra"


def test_audio_the_container_cannot_hold_is_re_encoded_with_one_warning(tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=10, audio="pcm_s16le")
    a, b, warnings = run(src, tmp_path / "b.webm")
    assert len(warnings) == 1 and "pcm_s16le re-encoded to libopus" in warnings[0]
    sa, sb = stream(a, "audio"), stream(b, "audio")
    assert sb["codec"] == "opus"
    opus_frame_s = 960 / 48000
    assert abs((sb["end_s"] - sb["start_s"]) - (sa["end_s"] - sa["start_s"])) <= opus_frame_s
    assert abs(sb["end_s"] - sa["end_s"]) <= opus_frame_s


def test_subtitles_chapters_and_metadata_survive_mkv_to_mkv(tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=10, subtitles=True, chapters=True, metadata={"title": "My film", "comment": "kept"}, stream_metadata={"title": "picture"})
    a, b, warnings = run(src, tmp_path / "b.mkv")
    assert warnings == []
    sa, sb = stream(a, "subtitle"), stream(b, "subtitle")
    assert sb["codec"] == sa["codec"] and sb["codec"] in ("subrip", "srt")
    assert sb["payload_md5"] == sa["payload_md5"] and sb["packets"] == 2
    assert (sb["start_s"], sb["end_s"]) == (sa["start_s"], sa["end_s"])
    assert sb["metadata"]["language"] == "eng"
    assert b["chapters"] == a["chapters"] == [(0.0, "first"), (0.2, "second")]
    assert b["metadata"]["title"] == "My film" and b["metadata"]["COMMENT"] == "kept"
    assert b["video_metadata"]["title"] == "picture"


def test_text_subtitles_are_re_encoded_for_mp4(tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=10, subtitles=True, chapters=True)
    _, b, warnings = run(src, tmp_path / "b.mp4")
    assert len(warnings) == 1 and "re-encoded to mov_text" in warnings[0]
    assert stream(b, "subtitle")["codec"] == "mov_text"
    assert b["chapters"] == [(0.0, "first"), (0.2, "second")]
    texts = []
    with av.open(str(tmp_path / "b.mp4")) as container:
        subs = container.streams.subtitles[0]
        for packet in container.demux(subs):
            if packet.size:
                cues = subs.codec_context.decode2(packet)
                texts += [bytes(r.ass) for r in (cues or [])]
    assert any(b"first line" in t for t in texts) and any(b"second line" in t for t in texts)


def test_y4m_output_drops_everything_but_the_picture_in_one_warning(tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=4, audio="aac", subtitles=True, chapters=True)
    _, b, warnings = run(src, tmp_path / "b.y4m")
    assert len(warnings) == 1
    assert "audio (aac) dropped" in warnings[0] and "subtitle" in warnings[0] and "chapters dropped" in warnings[0]
    assert [s["type"] for s in b["streams"]] == ["video"] and b["frames"] == 4


def test_vfr_audio_clip_keeps_sync(tmp_path):
    pts = [0, 40, 50, 130, 140, 300, 310, 400]
    src = write_clip(tmp_path / "a.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000), audio="aac")
    a, b, _ = run(src, tmp_path / "b.mp4")
    assert b["pts_s"] == a["pts_s"]
    assert stream(b, "audio")["payload_md5"] == stream(a, "audio")["payload_md5"]
