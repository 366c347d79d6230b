"""vsr.cluster.join: parts joined by stream copy give the file a single run gives."""
from fractions import Fraction
from itertools import pairwise

import pytest

from tests.video_clips import RepeatRunner, leftovers, luma_planes, probe, write_clip
from vsr.cluster.join import _decode_timestamps, _nearest, join_parts
from vsr.cluster.segment_reader import SegmentReader
from vsr.cluster.segments import plan_segments
from vsr.errors import InputError, OutputError
from vsr.video import upscale_video
from vsr.video.encoder import output_format


def upscale_in_parts(src, folder, ext, frames=1, **options):
    """What the cluster tasks do, one after another here: each segment into its part file."""
    plan = plan_segments(src, frames=frames)
    parts, counts = [], []
    for segment in plan.segments:
        part = folder / f"part{segment.index}{ext}"
        result = upscale_video(
            src, part, RepeatRunner(2), warn=lambda _: None, variable_rate=plan.variable_rate,
            open_reader=lambda source, log, segment=segment: SegmentReader(source, segment, log), **options,
        )
        parts.append(part)
        counts.append(result.frames)
    starts = [s.shown_from * plan.time_base for s in plan.segments]
    return plan, parts, counts, starts


def without_video_payload(info):
    info = dict(info, streams=[dict(s) for s in info["streams"]])
    info["streams"][0].pop("payload_md5")
    return info


CASES = {
    "mkv ffv1": ("a.mkv", ".mkv", {"codec": "ffv1"}, True),
    "mp4 x264 lossless": ("a.mkv", ".mp4", {"crf": 0}, True),
    "mp4 x264 B-frames": ("a.mkv", ".mp4", {}, False),
    "mov x265": ("a.mkv", ".mov", {"codec": "libx265"}, False),
    "mkv x264 B-frames": ("a.mkv", ".mkv", {}, False),
    "webm vp9": ("a.mkv", ".webm", {}, False),
    "variable rate to mp4": ("vfr.mkv", ".mp4", {}, False),
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("join-src")
    write_clip(folder / "a.mkv", frames=40, width=64, height=48, gop=8, audio="aac", subtitles=True, chapters=True, metadata={"title": "clip"}, stream_metadata={"title": "picture"})
    pts = [0, 40, 50, 130, 140, 300, 333, 400, 410, 420, 470, 500, 520, 560, 600, 640, 700, 760, 800, 830]
    write_clip(folder / "vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000), width=64, height=48, gop=6, audio="flac")
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_joined_parts_equal_a_single_run(sources, tmp_path, case):
    name, ext, options, lossless = CASES[case]
    src = sources / name
    single = tmp_path / f"single{ext}"
    upscale_video(src, single, RepeatRunner(2), warn=lambda _: None, **options)
    plan, parts, counts, starts = upscale_in_parts(src, tmp_path, ext, **options)
    assert len(parts) >= 3
    joined = tmp_path / f"joined{ext}"
    result = join_parts(src, parts, joined, output_format(joined), counts, starts, plan.last_duration)
    a, b = probe(single), probe(joined)
    assert result.frames == b["frames"] == a["frames"]
    assert without_video_payload(b) == without_video_payload(a)  # timestamps, streams, tags, chapters
    if lossless:
        for x, y in zip(luma_planes(joined), luma_planes(single), strict=True):
            assert (x == y).all()


def test_decode_timestamps_are_increasing_and_never_after_presentation():
    presentation = [0, 3, 1, 2, 4, 7, 5, 6, 8]  # I P B B | I P B B | I
    dts = _decode_timestamps(presentation, delay=2)
    assert all(a < b for a, b in pairwise(dts))
    assert all(d <= p for d, p in zip(dts, presentation))
    assert dts[:3] == [-2, -1, 0]  # as x264 starts a stream with two frames of reordering


def test_timestamps_round_half_away_from_zero_as_ffmpeg_does():
    assert [_nearest(Fraction(n, 2)) for n in (5, 3, 1, -1, -3)] == [3, 2, 1, -1, -2]


def test_parts_encoded_differently_cannot_be_joined(sources, tmp_path):
    src = sources / "a.mkv"
    plan, parts, _counts, starts = upscale_in_parts(src, tmp_path, ".mp4")
    upscale_video(src, parts[1], RepeatRunner(2), overwrite=True, crf=10,
                  open_reader=lambda source, log: SegmentReader(source, plan.segments[1], log))
    with pytest.raises(OutputError, match="other settings"):
        join_parts(src, parts, tmp_path / "out.mp4", "mp4", None, starts)
    assert not (tmp_path / "out.mp4").exists() and not [n for n in leftovers(tmp_path, set()) if n.startswith(".")]


def test_a_part_that_changed_since_it_was_written_is_refused(sources, tmp_path):
    src = sources / "a.mkv"
    _plan, parts, counts, starts = upscale_in_parts(src, tmp_path, ".mkv", codec="ffv1")
    counts[0] += 1
    with pytest.raises(InputError, match="frames"):
        join_parts(src, parts, tmp_path / "out.mkv", "matroska", counts, starts)
    counts[0] -= 1
    starts[1] += Fraction(1, 10)
    with pytest.raises(InputError, match="its segment at"):
        join_parts(src, parts, tmp_path / "out.mkv", "matroska", counts, starts)
    assert not (tmp_path / "out.mkv").exists() and not [n for n in leftovers(tmp_path, set()) if n.startswith(".")]
