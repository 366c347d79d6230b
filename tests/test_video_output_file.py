"""vsr.video.output_file: one output container, a video stream encoded or copied, the source's
other streams carried, errors as one line."""
from fractions import Fraction

import av
import pytest

from vsr.errors import OutputError
from vsr.video.ffmpeg_log import captured_ffmpeg_log
from vsr.video.output_file import OutputFile
from vsr.video.reader import VideoReader
from tests.video_clips import probe, write_clip


def _copy_video(source_path, target, fmt):
    """What the cluster join does, reduced: the source's own video packets copied, its audio carried."""
    with captured_ffmpeg_log() as log, VideoReader(str(source_path), log) as reader, av.open(str(source_path)) as src:
        output = OutputFile(str(target), fmt, "out", log)
        video = output.add_copied_video(src.streams.video[0])
        output.carry_from(reader, video)
        output.start()
        for packet in src.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video":
                packet.stream = video
                output.mux([packet])
            else:
                output.carry(packet)
        output.flush_carried()
        output.close()
    return output


def test_a_copied_video_stream_keeps_every_packet_and_the_audio_comes_along(tmp_path):
    source = write_clip(tmp_path / "in.mkv", frames=12, codec="libx264", audio="aac", metadata={"title": "kept"})
    output = _copy_video(source, tmp_path / "out.mkv", "matroska")
    before, after = probe(source), probe(tmp_path / "out.mkv")
    assert after["frames"] == 12 and after["pts"] == before["pts"]
    assert after["metadata"].get("title") == "kept"
    by_type = {s["type"]: s for s in after["streams"]}
    want = {s["type"]: s for s in before["streams"]}
    assert by_type["video"]["payload_md5"] == want["video"]["payload_md5"]
    assert by_type["audio"]["payload_md5"] == want["audio"]["payload_md5"]
    assert output.notes == []


def test_pcm_with_a_count_only_layout_is_copied_into_mp4_with_the_usual_speakers(tmp_path):
    # PCM in Matroska says "2 channels" without naming speakers; MP4's muxer failed at its trailer.
    source = write_clip(tmp_path / "in.mkv", frames=6, codec="libx264", audio="pcm_s16le")
    _copy_video(source, tmp_path / "out.mp4", "mp4")
    streams = {s["type"]: s for s in probe(tmp_path / "out.mp4")["streams"]}
    assert streams["audio"]["payload_md5"] == {s["type"]: s for s in probe(source)["streams"]}["audio"]["payload_md5"]
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.audio[0].codec_context.layout.name == "stereo"


def test_a_stream_the_container_cannot_hold_is_re_encoded_and_said(tmp_path):
    source = write_clip(tmp_path / "in.mkv", frames=6, codec="libvpx-vp9", audio="pcm_s16le")
    output = _copy_video(source, tmp_path / "out.webm", "webm")
    streams = {s["type"]: s for s in probe(tmp_path / "out.webm")["streams"]}
    assert streams["audio"]["codec"] == "opus" and streams["audio"]["packets"] > 0
    assert output.notes == ["#1 audio pcm_s16le re-encoded to libopus (webm cannot hold pcm_s16le)"]


def test_an_encoded_stream_and_the_y4m_aspect_field(tmp_path):
    target = tmp_path / "out.y4m"
    output = OutputFile(str(target), "yuv4mpegpipe", "out", None, sample_aspect_ratio=Fraction(4, 3))
    stream = output.add_encoded_video("wrapped_avframe", Fraction(25))
    stream.codec_context.width, stream.codec_context.height, stream.codec_context.pix_fmt = 16, 8, "yuv420p"
    output.start()
    for index in range(3):
        frame = av.VideoFrame(16, 8, "yuv420p")
        frame.pts, frame.time_base = index, Fraction(1, 25)
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))
    output.close()
    header = target.read_bytes().split(b"\n", 1)[0].split(b" ")
    assert b"A4:3" in header and b"W16" in header
    with av.open(str(target)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_a_folder_that_does_not_exist_is_one_line(tmp_path):
    # FFmpeg opens the file only when the header is written, so that is where it must be said.
    output = OutputFile(str(tmp_path / "missing" / "out.mkv"), "matroska", "out")
    output.add_encoded_video("ffv1", Fraction(25)).codec_context.pix_fmt = "yuv420p"
    with pytest.raises(OutputError, match=r"^out: cannot create \(.*No such file"):
        output.start()
    output.abort()


def test_abort_after_the_header_leaves_a_file_the_caller_can_delete(tmp_path):
    target = tmp_path / "out.mkv"
    output = OutputFile(str(target), "matroska", "out")
    stream = output.add_encoded_video("ffv1", Fraction(25))
    stream.codec_context.width, stream.codec_context.height, stream.codec_context.pix_fmt = 16, 8, "yuv420p"
    output.start()
    output.abort()
    output.abort()  # twice is harmless: abort runs from error paths that may overlap
    assert target.stat().st_size > 0
    target.unlink()
