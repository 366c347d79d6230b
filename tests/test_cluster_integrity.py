"""--cluster never upscales less than the input holds, nor joins a part that is not what was written.

A truncated input is refused at planning, as the plain reader refuses it, and a segment that ends
the file gets the plain reader's end-of-file checks too. On a rerun, every part kept from before
is checked (SHA-256 as recorded, and that it decodes to its recorded frame count); a part that
fails is done again, and the run says so.
"""
from pathlib import Path

import av
import pytest

from tests.video_clips import leftovers, write_clip
from vsr.cluster.segment_reader import SegmentReader
from vsr.cluster.segments import plan_segments
from vsr.errors import InputError
from vsr.video.ffmpeg_log import captured_ffmpeg_log


def faststart_mp4(source: Path, target: Path) -> Path:
    """``source``'s video remuxed into an MP4 with its index first, as streaming sites serve it:
    cut short, it still opens, and FFmpeg's demuxer stops at the cut without raising."""
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    return target


def first_half(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


@pytest.mark.parametrize("kind, message", [("mp4", "partial file"), ("mkv", "ended prematurely"), ("y4m", "last frame is incomplete")])
def test_planning_refuses_a_truncated_input_as_the_plain_reader_does(tmp_path, kind, message):
    clip = write_clip(tmp_path / f"clip.{kind}", frames=40, width=64, height=48, gop=10)
    if kind == "mp4":
        clip = faststart_mp4(clip, tmp_path / "fast.mp4")
    assert len(plan_segments(clip, frames=10).segments) >= 3  # whole, it plans
    with pytest.raises(InputError, match=message):
        plan_segments(first_half(clip, tmp_path / f"half.{kind}"), frames=10)


def test_a_cluster_run_of_half_an_mp4_is_refused_before_any_work(tmp_path):
    pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")
    from vsr.cluster import ClusterSettings, upscale_cluster

    # The case: the first half of a 120-frame MP4 gave exit 0 and a 55-frame output.
    clip = faststart_mp4(write_clip(tmp_path / "a.mkv", frames=120, width=64, height=48, gop=30), tmp_path / "a.mp4")
    half = first_half(clip, tmp_path / "t.mp4")
    with pytest.raises(InputError, match="partial file"):
        upscale_cluster(half, tmp_path / "o.mp4", ClusterSettings(backend="torch"), segment_frames=30, quiet=True)
    assert leftovers(tmp_path, {"a.mkv", "a.mp4", "t.mp4"}) == []  # no work folder, no output


def test_the_segment_that_ends_the_file_gets_the_end_of_file_checks(tmp_path):
    clip = write_clip(tmp_path / "a.y4m", frames=12, width=16, height=16)
    plan = plan_segments(clip, frames=4)
    # Half a frame more since the plan: the y4m demuxer drops it without a word.
    with open(clip, "ab") as f:
        f.write(b"FRAME\n" + b"\x80" * 100)
    *inner, last = plan.segments
    for segment in inner:  # the file does not end with these: nothing to tell
        with captured_ffmpeg_log() as log, SegmentReader(clip, segment, log) as reader:
            assert sum(1 for _ in reader.items()) == segment.packets
    with pytest.raises(InputError, match="last frame is incomplete"):
        with captured_ffmpeg_log() as log, SegmentReader(clip, last, log) as reader:
            list(reader.items())
