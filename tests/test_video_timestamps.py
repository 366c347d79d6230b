"""vsr/video/timestamps.py: timestamps handed out in presentation order, each input one used once."""
from vsr.video.timestamps import REORDER_WINDOW, TimestampOrder


def _through_window(stamps, durations=None):
    """What the pipeline does: each frame enters the window; past REORDER_WINDOW the oldest leaves."""
    order, out, held = TimestampOrder(), [], 0
    durations = durations or [1] * len(stamps)
    for stamp, duration in zip(stamps, durations):
        order.add(stamp)
        held += 1
        if held > REORDER_WINDOW:
            out.append(order.take(duration))
            held -= 1
    while held:
        out.append(order.take(1))
        held -= 1
    return out, order.retimed


def test_well_formed_timestamps_pass_unchanged():
    assert _through_window(list(range(0, 30, 3))) == (list(range(0, 30, 3)), 0)


def test_packed_b_frame_timestamps_come_back_in_presentation_order():
    # AVI with MPEG-4 packed B-frames: the timestamps follow the packets, not the pictures.
    assert _through_window([1, 2, 3, 5, 4, 6, 8, 7, 9]) == ([1, 2, 3, 4, 5, 6, 7, 8, 9], 0)


def test_frames_without_a_usable_timestamp_follow_the_previous_one_and_are_counted():
    out, retimed = _through_window([0, None, None, 3], durations=[1, 1, 1, 1])
    assert out == [0, 3, 4, 5] and retimed == 2  # both None frames placed after the last one, by its duration
    out, retimed = _through_window([None, None])
    assert out == [0, 1] and retimed == 2
