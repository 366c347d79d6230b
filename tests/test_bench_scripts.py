"""The benchmark scripts still run against the library they measure (timings are not checked here:
benchmarks belong in bench/, this only catches an API they call having moved under them)."""
import json
import subprocess
import sys
from pathlib import Path

from tests.preview_clip import make_clip

REPO = Path(__file__).resolve().parent.parent


def test_bench_video_e2e_runs_on_a_small_clip_and_writes_its_report(tmp_path):
    clip = make_clip(tmp_path / "clip.mkv", width=64, height=48, frames=6)
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_video_e2e.py"), "--input", str(clip), "--loop", "0",
         "--repeats", "1", "--skip-cli", "--opencv-models", str(tmp_path / "no-models"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    [report_path] = out.glob("video_e2e_*.json")
    report = json.loads(report_path.read_text())
    [clip_result] = report["results"]  # --loop 0: the clip as given, no looped copy
    assert clip_result["frames"] == 6
    rows = clip_result["rows"]
    assert {"decode", "encode", "vsr"} <= set(rows)
    assert all(row["fps"] > 0 for row in rows.values())
