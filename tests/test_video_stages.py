"""vsr.video.stages: the per-stage timer benchmarks read."""
import time

import pytest

from vsr.video.stages import STAGES, StageTimes


def test_measure_adds_up_and_reports_per_frame():
    stages = StageTimes()
    for _ in range(2):
        with stages.measure("sr"):
            time.sleep(0.01)
    stages.frames, stages.wall_s = 4, 0.05
    assert stages.seconds["sr"] >= 0.02 and stages.seconds["decode"] == 0
    report = stages.as_dict()
    assert report["fps"] == pytest.approx(80.0)
    assert report["stage_ms_per_frame"]["sr"] == pytest.approx(1000 * stages.seconds["sr"] / 4)
    assert report["stage_fps"]["decode"] is None and set(report["stage_meaning"]) == set(STAGES)


def test_time_is_counted_even_when_the_stage_fails():
    stages = StageTimes()
    with pytest.raises(ValueError), stages.measure("encode"):
        time.sleep(0.005)
        raise ValueError
    assert stages.seconds["encode"] > 0
