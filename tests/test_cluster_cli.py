"""`vsr upscale --cluster` from the command line: a run, one-line errors, Ray missing, --help."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, assert_cli_error, run_vsr
from tests.video_clips import leftovers, probe, write_clip
from vsr.cluster.manifest import DONE, Manifest
from vsr.cluster.run import work_folder
from vsr.cluster.segments import plan_segments


def test_without_ray_one_line_says_how_to_install_it(monkeypatch, cli, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    monkeypatch.delitem(sys.modules, "vsr.cluster.ray_runner", raising=False)
    src = write_clip(tmp_path / "a.mkv", frames=2)
    assert_cli_error(cli("upscale", src, tmp_path / "b.mp4", "--cluster"), "pip install 'vsr[cluster]'")
    assert leftovers(tmp_path, {"a.mkv"}) == []


def test_segment_lengths_need_cluster(cli, tmp_path):
    src = write_clip(tmp_path / "a.mkv", frames=2)
    assert_cli_error(cli("upscale", src, tmp_path / "b.mp4", "--segment-frames", "10"), "go with --cluster")


def test_nothing_but_the_cluster_runner_imports_ray():
    code = (
        "import sys, vsr, vsr.api, vsr.cli.main, vsr.cluster, vsr.cluster.run, vsr.video;"
        "assert 'ray' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ray'))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_help_explains_cluster():
    out = run_vsr("upscale", "--help").stdout.decode()
    for words in ("--cluster [ADDRESS]", "ray://HOST:10001", "auto", "OUTPUT.vsr-parts", "--segment-frames", "--segment-seconds"):
        assert words in out


def test_cluster_run_from_the_command_line(local_ray, tmp_path, cli):
    src = write_clip(tmp_path / "a.mkv", frames=20, width=64, height=48, gop=5, audio="aac")
    target = tmp_path / "b.mkv"
    code, stderr = cli("upscale", src, target, "--cluster", "--segment-frames", "5", "--backend", "torch", "--codec", "ffv1")
    segments = len(plan_segments(src, frames=5).segments)
    assert code == 0 and segments >= 3, stderr
    assert re.search(rf"^vsr: wrote {re.escape(str(target))}: 20 -> 20 frames, 64x48 -> 128x96, .*; espcn x2 on torch .*; ffv1.*; "
                     rf"{segments} segments on local Ray: 1 node, 2 CPUs", stderr.splitlines()[-1]), stderr
    assert probe(target)["pts"] == probe(src)["pts"] and probe(target)["width"] == 128
    assert_cli_error(cli("upscale", src, target, "--cluster"), "already exists")
    assert_cli_error(cli("upscale", src, tmp_path / "c.y4m", "--cluster"), "not y4m")
    assert_cli_error(cli("upscale", src, tmp_path / "c.mp4", "--cluster", "--segment-frames", "4", "--segment-seconds", "1"), "not both")
    assert leftovers(tmp_path, {"a.mkv", "b.mkv"}) == []


def test_ctrl_c_stops_the_run_and_the_same_command_finishes_it(tmp_path):
    pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")
    src = write_clip(tmp_path / "a.mkv", frames=64, width=320, height=240, gop=8, audio="aac")
    target = tmp_path / "b.mkv"
    command = [sys.executable, "-m", "vsr", "upscale", str(src), str(target), "--cluster", "--segment-frames", "8", "--backend", "torch", "--codec", "ffv1", "--quiet"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
    manifest = work_folder(target) / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (manifest.exists() and '"done"' in manifest.read_text()):
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)  # Ctrl-C once a segment is recorded
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr.decode()
    assert stderr.decode().strip() == "vsr: interrupted"
    assert not target.exists()
    done = Manifest.load(work_folder(target)).segments
    finished = sum(r.state == DONE for r in done)
    assert 1 <= finished < len(done)

    rerun = subprocess.run(command[:-1], cwd=REPO, env=env, capture_output=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert f"; {len(done) - finished} segments on local Ray: 1 node, 2 CPUs, {finished} done before" in rerun.stderr.decode()
    assert probe(target)["frames"] == 64 and leftovers(tmp_path, {"a.mkv", "b.mkv"}) == []
