import av
import numpy as np
import pytest

from tests.video_clips import write_clip
from vsr.benchmark.clips import write_y4m_clip
from vsr.errors import InputError


def _planes(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)], container.streams.video[0].average_rate


def test_a_looped_clip_repeats_the_first_frames_in_order(tmp_path):
    source = write_clip(tmp_path / "s.mkv", frames=5, width=32, height=24, codec="ffv1", rate=10)
    count = write_y4m_clip(source, tmp_path / "c.y4m", loops=3, first=2)
    original, _ = _planes(source)
    clip, rate = _planes(tmp_path / "c.y4m")
    assert count == len(clip) == 6 and rate == 10
    for got, want in zip(clip, [0, 1] * 3):
        np.testing.assert_array_equal(got, original[want])


def test_a_clip_keeps_every_frame_once_by_default_and_refuses_nonsense(tmp_path):
    source = write_clip(tmp_path / "s.mkv", frames=4, codec="ffv1")
    assert write_y4m_clip(source, tmp_path / "c.y4m") == 4
    with pytest.raises(InputError):
        write_y4m_clip(source, tmp_path / "d.y4m", loops=0)
