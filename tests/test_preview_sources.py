"""Preview sources: files and URLs through PyAV, paced, looped and shrunk; cameras that aren't there."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.preview_clip import GREEN, make_clip
from vsr.errors import ConfigError, InputError
from vsr.preview.sources import open_source


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", frames=12, fps=50)


def read_all(source, limit=100):
    frames = []
    while len(frames) < limit:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def test_file_gives_every_frame_as_rgb_then_ends(clip):
    source = open_source(str(clip))
    frames = read_all(source)
    source.close()
    assert len(frames) == 12
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    assert np.abs(frames[0].rgb[0, 0].astype(int) - GREEN).max() < 12
    assert [f.pts_s for f in frames[:3]] == pytest.approx([0.0, 0.02, 0.04])


def test_file_is_played_at_its_own_frame_rate(clip):
    source = open_source(str(clip))
    start = time.monotonic()
    read_all(source)
    elapsed = time.monotonic() - start
    source.close()
    assert elapsed >= 11 * 0.02 * 0.9  # 12 frames at 50 fps: 0.22 s from the first to the last


def test_loop_replays_the_file(clip):
    source = open_source(str(clip), loop=True)
    frames = read_all(source, limit=30)
    source.close()
    assert len(frames) == 30


def test_input_size_shrinks_each_picture(clip):
    source = open_source(str(clip), size=(32, 20))
    assert source.read().rgb.shape == (20, 32, 3)
    source.close()


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_source(str(tmp_path / "nope.mp4"))


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n")
    with pytest.raises(InputError, match="cannot open"):
        open_source(str(path))


def test_folder_is_not_a_source(tmp_path):
    with pytest.raises(InputError, match="directory"):
        open_source(str(tmp_path))


@pytest.mark.skipif(not sys.platform.startswith("linux") or Path("/dev/video63").exists(), reason="needs Linux without /dev/video63")
def test_camera_that_does_not_exist():
    with pytest.raises(InputError, match="no camera 63"):
        open_source("63")


def test_loop_does_not_apply_to_a_camera():
    with pytest.raises(ConfigError, match="--loop"):
        open_source("0", loop=True)
