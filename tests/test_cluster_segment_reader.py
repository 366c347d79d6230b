"""vsr.cluster.segment_reader: each segment decodes to exactly its frames of the whole file."""
import hashlib
from dataclasses import replace

import pytest

from tests.video_clips import write_clip
from vsr.cluster.segment_reader import SegmentReader
from vsr.cluster.segments import plan_segments
from vsr.errors import InputError
from vsr.video.reader import VideoReader


def frames_of(reader) -> list[tuple]:
    with reader:
        return [(f.pts, hashlib.md5(b"".join(bytes(p) for p in f.planes)).hexdigest()) for f in reader.items() if hasattr(f, "planes")]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segments")
    return {
        "h264 with B-frames in mp4": write_clip(folder / "a.mp4", frames=30, width=64, height=48, gop=8, audio="aac"),
        "h264 in mkv": write_clip(folder / "b.mkv", frames=30, width=64, height=48, gop=6, subtitles=True),
        "mpeg4 in avi": write_clip(folder / "c.avi", codec="mpeg4", frames=30, width=64, height=48, gop=7),
        "y4m": write_clip(folder / "d.y4m", frames=9, width=16, height=16),
    }


@pytest.mark.parametrize("kind", ["h264 with B-frames in mp4", "h264 in mkv", "mpeg4 in avi", "y4m"])
def test_segments_decode_to_the_whole_files_frames(clips, kind):
    src = clips[kind]
    whole = frames_of(VideoReader(src))
    plan = plan_segments(src, frames=1)
    assert len(plan.segments) >= 3
    pieces = []
    for segment in plan.segments:
        got = frames_of(SegmentReader(src, segment))
        assert len(got) == segment.packets
        pieces.extend(got)
    assert pieces == whole


class NoSeekReader(SegmentReader):
    def _seek_to_start(self):
        return None


def test_without_a_usable_seek_it_reads_from_the_start(clips):
    src = clips["h264 with B-frames in mp4"]
    plan = plan_segments(src, frames=1)
    last = plan.segments[-1]
    assert frames_of(NoSeekReader(src, last)) == frames_of(SegmentReader(src, last))


def test_a_file_changed_since_planning_is_an_input_error(clips):
    src = clips["h264 in mkv"]
    segment = plan_segments(src, frames=1).segments[1]
    moved = replace(segment, start=replace(segment.start, pos=segment.start.pos + 1))
    with pytest.raises(InputError, match="changed"):
        frames_of(SegmentReader(src, moved))
    longer = replace(segment, end=segment.end + 1000)
    with pytest.raises(InputError, match="ends after"):
        frames_of(SegmentReader(src, longer))


def test_only_the_video_is_read(clips):
    reader = SegmentReader(clips["h264 with B-frames in mp4"], plan_segments(clips["h264 with B-frames in mp4"], frames=1).segments[0])
    with reader:
        assert reader.carried == [] and all(hasattr(item, "planes") for item in reader.items())
