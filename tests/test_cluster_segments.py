"""vsr.cluster.segments: cuts only at keyframes that split presentation order cleanly."""
from fractions import Fraction

import pytest

from tests.video_clips import write_clip
from vsr.cluster.segments import PacketKey, _clean_cuts, _PacketInfo, plan_segments
from vsr.errors import ConfigError, InputError


def packets(*stamps_and_keys):
    """Packet infos from (pts, keyframe) pairs in decode order."""
    return [_PacketInfo(PacketKey(i, 1, pts, None), key, pts, 1) for i, (pts, key) in enumerate(stamps_and_keys)]


def test_closed_gop_keyframes_are_cuts():
    # I P B B | I P B B (decode order; the B-frames are shown before the P of their own GOP)
    assert _clean_cuts(packets((0, True), (3, False), (1, False), (2, False), (4, True), (7, False), (5, False), (6, False))) == [4]


def test_open_gop_keyframe_is_not_a_cut():
    # The B-frames after the second I are shown before it: they need the previous GOP.
    assert _clean_cuts(packets((0, True), (3, False), (1, False), (2, False), (6, True), (4, False), (5, False), (7, False))) == []


def test_packet_without_timestamp_blocks_cuts_around_it():
    assert _clean_cuts(packets((0, True), (1, False), (2, True), (3, False), (4, True))) == [2, 4]
    assert _clean_cuts(packets((0, True), (1, False), (2, True), (None, False), (4, True))) == []


def test_segments_start_at_keyframes_and_cover_every_packet(tmp_path):
    src = write_clip(tmp_path / "a.mp4", frames=40, width=64, height=48, gop=10)
    plan = plan_segments(src, frames=10)
    assert plan.packets == 40 and len(plan.segments) >= 3
    assert plan.segments[0].first == 0 and plan.segments[-1].end == 40
    for before, after in zip(plan.segments, plan.segments[1:]):
        assert before.end == after.first and after.packets >= 1
    assert all(s.packets >= 10 for s in plan.segments[:-1])
    assert plan.time_base == Fraction(1, 12800) and not plan.variable_rate
    assert plan.last_duration == Fraction(1, 25)


def test_segment_length_in_seconds_and_a_short_tail_is_merged(tmp_path):
    src = write_clip(tmp_path / "a.y4m", frames=26, width=16, height=16)  # every frame a keyframe, 25 fps
    plan = plan_segments(src, seconds=0.4)
    assert [s.packets for s in plan.segments] == [10, 10, 6]
    plan = plan_segments(src, frames=12)
    assert [s.packets for s in plan.segments] == [12, 14]  # the 2-frame tail joins the one before


def test_one_keyframe_gives_one_segment_with_a_note(tmp_path):
    src = write_clip(tmp_path / "a.mp4", frames=12, width=64, height=48)
    plan = plan_segments(src, frames=2)
    assert len(plan.segments) == 1 and "no keyframe after the first" in plan.notes[0]


def test_variable_rate_is_judged_once_for_the_whole_file(tmp_path):
    pts = [0, 40, 50, 130, 140, 300, 333, 400, 410]
    src = write_clip(tmp_path / "a.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    assert plan_segments(src).variable_rate


@pytest.mark.parametrize("options, message", [({"frames": 4, "seconds": 1.0}, "not both"), ({"frames": 0}, "at least 1"), ({"seconds": 0}, "more than 0")])
def test_bad_lengths_are_refused(tmp_path, options, message):
    src = write_clip(tmp_path / "a.mp4", frames=2)
    with pytest.raises(ConfigError, match=message):
        plan_segments(src, **options)


def test_not_a_video_is_an_input_error(tmp_path):
    bad = tmp_path / "a.mp4"
    bad.write_text("not a video")
    with pytest.raises(InputError):
        plan_segments(bad)
