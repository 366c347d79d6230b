"""The live loop: newest frame wins, skipped frames are counted, keys act, errors come home."""
from __future__ import annotations

import errno
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vsr.errors import InputError, OutputError, WeightsError
from vsr.files import PART_SUFFIX
from vsr.preview.compose import side_by_side
from vsr.preview.live import LivePreview
from vsr.preview.snapshot import save_snapshot
from vsr.preview.sources import SourceFrame


class FakeSource:
    """``count`` frames numbered in their first pixel, one every ``interval_s``; ``fail_at`` raises."""

    live = False
    name = "fake"

    def __init__(self, count=40, interval_s=0.0, fail_at=None, h=12, w=16):
        self.count, self.interval_s, self.fail_at = count, interval_s, fail_at
        self.h, self.w = h, w
        self.read_count = 0
        self.closed = False

    def read(self):
        if self.read_count == self.fail_at:
            raise InputError("fake: cannot decode")
        if self.read_count >= self.count:
            return None
        time.sleep(self.interval_s)
        rgb = np.full((self.h, self.w, 3), 100, np.uint8)
        rgb[0, 0] = self.read_count
        self.read_count += 1
        return SourceFrame(rgb, None, time.monotonic())

    def restart_clock(self):
        pass

    def close(self):
        self.closed = True


class FakeRunner:
    """Nearest-neighbour "model" that takes ``delay_s`` per frame and remembers each frame's first Y."""

    device, precision = "cpu", "fp32"

    def __init__(self, scale=2, delay_s=0.0, name="fake"):
        self.scale, self.delay_s, self.name = scale, delay_s, name
        self.seen = []

    def run(self, batch):
        time.sleep(self.delay_s)
        self.seen.append(float(batch[0, 0, 0]))
        return batch.repeat(self.scale, axis=1).repeat(self.scale, axis=2)


def run_to_end(preview, timeout=10):
    preview.start()
    assert preview.wait(timeout), "preview did not finish"
    preview.stop()
    preview.raise_error()
    return preview.stats()


def test_slow_model_shows_the_newest_frame_and_counts_the_rest_as_skipped():
    source, runner = FakeSource(count=60, interval_s=0.002), FakeRunner(delay_s=0.03)
    stats = run_to_end(LivePreview(source, runner, "fake"))
    assert stats.skipped > 0
    assert stats.frames + stats.skipped == 60  # every captured frame was either shown or counted
    assert len(runner.seen) == stats.frames
    assert runner.seen[-1] == pytest.approx((16 + 219 * 59 / 255) / 255, abs=1e-5)  # the source's last frame is shown
    assert source.closed


def test_fast_model_shows_every_frame_of_a_paced_source():
    stats = run_to_end(LivePreview(FakeSource(count=12, interval_s=0.04), FakeRunner(), "fake"))
    assert (stats.frames, stats.skipped) == (12, 0)
    assert stats.fps > 0 and stats.latency_ms >= 0
    assert stats.input_size == (16, 12) and stats.output_size == (32, 24)
    assert stats.ended


def test_source_error_reaches_the_caller():
    preview = LivePreview(FakeSource(count=10, fail_at=3), FakeRunner(), "fake")
    preview.start()
    assert preview.wait(5)
    preview.stop()
    with pytest.raises(InputError, match="cannot decode"):
        preview.raise_error()


def test_pause_holds_the_picture_and_q_quits():
    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(), "fake").start()
    assert preview.view(timeout=5) is not None
    assert preview.handle_key(" ") == "paused"
    time.sleep(0.05)
    frames = preview.stats().frames
    time.sleep(0.2)
    assert preview.stats().frames == frames and preview.stats().paused
    assert preview.handle_key(" ") == "resumed"
    time.sleep(0.2)
    assert preview.stats().frames > frames
    preview.handle_key("q")
    assert preview.wait(2)
    preview.stop()


def test_m_cycles_models_and_a_model_that_cannot_load_is_passed_over():
    second = FakeRunner(name="fake")

    def load(name):
        if name == "broken":
            raise WeightsError("no broken weights ship with vsr")
        return second

    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(), "first", load_runner=load, models=["first", "second", "broken"]).start()
    try:
        preview.handle_key("m")
        deadline = time.monotonic() + 5
        while preview.stats().model != "second" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert preview.stats().model == "second"
        preview.handle_key("m")
        deadline = time.monotonic() + 5
        while "broken" not in preview.stats().message and time.monotonic() < deadline:
            time.sleep(0.02)
        stats = preview.stats()
        assert stats.model == "second" and "no broken weights" in stats.message
    finally:
        preview.stop()


def test_snapshot_saves_both_halves_as_png(tmp_path):
    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(scale=3), "fake", snapshot_dir=tmp_path).start()
    try:
        assert preview.view(timeout=5) is not None
        done = preview.handle_key("s")
    finally:
        preview.stop()
    saved = list(tmp_path.glob("*.png"))
    assert done.startswith("saved") and len(saved) == 1
    assert Image.open(saved[0]).size == (2 * 3 * 16, 3 * 12)


def test_a_snapshot_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    bicubic, cnn = np.full((6, 8, 3), 40, np.uint8), np.full((6, 8, 3), 200, np.uint8)
    cnn[2, 3] = (1, 2, 3)
    path = save_snapshot(tmp_path, bicubic, cnn, "espcn", 2)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left beside it
    assert path.name.startswith("vsr-preview-espcn-x2-") and path.suffix == ".png"
    assert np.array_equal(np.asarray(Image.open(path)), side_by_side(bicubic, cnn))  # decodes, pixel for pixel

    written = []

    def fail_halfway(self, fp, *args, **kwargs):  # a full disk after the first bytes
        written.append(Path(fp))
        Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", fail_halfway)
    with pytest.raises(OutputError) as failed:
        save_snapshot(tmp_path / "full", bicubic, cnn, "espcn", 2)
    message = str(failed.value)
    assert message.endswith(": cannot write snapshot (No space left on device)") and "\n" not in message
    assert written and written[0].name.endswith(PART_SUFFIX)  # written beside the target, under a temporary name
    assert list((tmp_path / "full").iterdir()) == []  # neither a partial PNG nor the temporary file


def test_a_failed_snapshot_is_said_and_the_preview_goes_on(tmp_path):
    not_a_folder = tmp_path / "taken"
    not_a_folder.write_text("")
    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(), "fake", snapshot_dir=not_a_folder).start()
    try:
        key, _ = preview.view(timeout=5)
        done = preview.handle_key("s")
        assert "cannot write snapshot" in done and preview.stats().message == done
        assert preview.view(key, timeout=5) is not None and not preview.finished
    finally:
        preview.stop()


def test_view_follows_layout_and_split_keys():
    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(), "fake").start()
    try:
        key, picture = preview.view(timeout=5)
        assert picture.shape == (24, 64, 3)
        assert preview.handle_key("v") == "layout split"
        key, picture = preview.view(key, timeout=5)
        assert picture.shape == (24, 32, 3)
        assert preview.handle_key("]") == "split at 0.55"
    finally:
        preview.stop()


def test_a_model_without_weights_is_named_plainly_the_current_one_stays_and_m_says_why():
    def load(name):
        raise WeightsError(f"no {name} weights ship with vsr")

    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005), FakeRunner(), "first", load_runner=load, models=["first", "broken"]).start()
    try:
        assert preview.handle_key("m") == "switching to broken"
        deadline = time.monotonic() + 5
        while not preview.stats().unavailable_models and time.monotonic() < deadline:
            time.sleep(0.02)
        stats = preview.stats()
        assert stats.model == "first" and stats.unavailable_models == ("broken",) and stats.models == ("first", "broken")
        assert stats.message == "broken: no usable weights for x2, staying on first; no broken weights ship with vsr"
        assert stats.status_line().endswith("| broken: no usable weights for x2, staying on first")  # the window's gist
        again = preview.handle_key("m")  # not tried again, and not silently ignored
        assert again.startswith("no other model can run here, staying on first; broken: no usable weights for x2")
        assert preview.stats().model == "first"
    finally:
        preview.stop()


def test_status_overlay_is_the_front_end_s_choice():
    preview = LivePreview(FakeSource(count=10_000, interval_s=0.005, h=48, w=64), FakeRunner(), "fake").start()
    try:
        key, plain = preview.view(timeout=5, status_overlay=False)
        _, drawn = preview.view(timeout=5, status_overlay=True)
    finally:
        preview.stop()
    assert (plain[-4:] == 100).all()  # the source's grey, untouched
    assert (drawn[-4:] != 100).any()  # the status line along the bottom


def test_overlay_writes_a_slow_rate_with_two_significant_digits():
    from vsr.preview.stats import PreviewStats

    def stats(fps):
        return PreviewStats(fps=fps, source_fps=30.0, latency_ms=2300.0, skipped=5, frames=3, model="msrn",
                            backend="torch", device="cpu", precision="fp32", scale=4, input_size=(320, 180),
                            output_size=(1280, 720), layout="side", paused=False, ended=False, message="")

    assert "| 0.43 fps |" in stats(0.4321).status_line()  # MSRN x4 on a small CPU, not "0.0 fps"
    assert "| 29.9 fps |" in stats(29.94).status_line()
