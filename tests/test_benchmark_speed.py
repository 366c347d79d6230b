import json

from tests.conftest import assert_cli_error
from tests.video_clips import write_clip
from vsr.video.stages import STAGES


def test_tiny_speed_run_reports_every_stage_and_the_machine(tmp_path, cli):
    out = tmp_path / "speed.json"
    code, err = cli("bench", "speed", "--size", "48x32", "--frames", "4", "--repeats", "2", "--warmup", "1",
                    "--backend", "torch", "--json", out, "--no-plot")
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["command"].startswith("vsr bench speed") and report["machine"]["cores"] >= 1
    (r,) = report["results"]
    assert r["input_size"] == [48, 32] and r["output_size"] == [96, 64] and r["frames"] == 4
    assert len(r["fps_runs"]) == 2 and r["fps_spread"][0] <= r["fps"] <= r["fps_spread"][1]
    assert set(r["stage_fps"]) == set(STAGES) and all(v and v > 0 for v in r["stage_fps"].values())
    assert abs(sum(r["stage_share"].values()) - 1.0) < 1e-6
    assert r["slowest_stage"] in STAGES
    # End to end can't beat its slowest stage by much (stages overlap, never speed each other up).
    assert 0 < r["pipeline_efficiency"] <= 1.05
    assert r["runner"]["backend"] == "torch"


def test_speed_on_an_input_file_with_a_frame_limit(tmp_path, cli):
    clip = write_clip(tmp_path / "c.mkv", frames=6, width=40, height=24, codec="ffv1", rate=10)
    out = tmp_path / "s.json"
    code, err = cli("bench", "speed", "--input", clip, "--frames", "3", "--repeats", "1", "--json", out, "--no-plot")
    assert code == 0, err
    (r,) = json.loads(out.read_text())["results"]
    assert r["frames"] == 3 and r["input"] == str(clip)


def test_bad_speed_arguments_are_one_line(tmp_path, cli):
    assert_cli_error(cli("bench", "speed", "--size", "big"), "--size")
    assert_cli_error(cli("bench", "speed", "--input", tmp_path / "none.y4m"), "no such file")
