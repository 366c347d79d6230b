"""A --cluster run killed (SIGKILL) at each stage, then rerun: the output is the plain run's.

One chain of runs of the command line, each killed at an observable point, and a last one that
finishes:

1. after planning (the work folder's manifest is written, no segment done yet);
2. mid-segment (the manifest records one segment done, others are running: a test-side patch of
   the driver, in the script below, pauses once the first is recorded and says so);
3. during the join (half the joined file is written: a test-side patch of the join, in the driver
   script below, pauses there and says so);
4. to the end: frame count, every PTS, every stream as the plain run's; pictures bit-identical (ffv1).

The runs start from a folder that holds a folder named ``vsr`` (as a checkout's parent does), which
must not shadow the installed package in the tasks (issue 20, item 13), and after each kill every
process of the local Ray that run started must be gone within seconds (item 14).
Takes about a minute on 2 cores (four local Ray starts).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.processes import alive, descendants
from tests.video_clips import luma_planes, probe, write_clip

pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")

FRAMES, SEGMENT = 48, 8

DRIVER = '''\
import os, sys, time
del sys.path[0]  # this folder holds a folder named vsr: the package must come from the install
recorded = os.environ.get("VSR_TEST_PAUSE_RECORDED")
if recorded:  # the test's patch: once the first segment is recorded done, say so and wait to be killed
    from vsr.cluster import run
    record = run._Video.record
    def paused_record(self, outcome):
        record(self, outcome)
        open(recorded, "w").close()
        time.sleep(600)
    run._Video.record = paused_record
pause = os.environ.get("VSR_TEST_PAUSE_JOIN")
if pause:  # the test's patch: halfway through writing the joined file, say so and wait to be killed
    from vsr.cluster import join
    packets = join._Parts.packets
    def paused(self):
        for n, packet in enumerate(packets(self)):
            if n == self.count // 2:
                open(pause, "w").close()
                time.sleep(600)
            yield packet
    join._Parts.packets = paused
from vsr.cli.main import main
sys.exit(main())
'''


class Chain:
    def __init__(self, folder: Path, source: Path, target: Path):
        self.folder, self.source, self.target = folder, source, target
        self.manifest = target.with_name(target.name + ".vsr-parts") / "manifest.json"

    def start(self, **env) -> subprocess.Popen:
        command = [sys.executable, "drive.py", "upscale", str(self.source), str(self.target), "--cluster",
                   "--segment-frames", str(SEGMENT), "--backend", "torch", "--codec", "ffv1", "--quiet"]
        environ = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": "", **env}
        return subprocess.Popen(command, cwd=self.folder, env=environ, stderr=subprocess.PIPE)

    def states(self) -> list[str]:
        try:
            return [s["state"] for s in json.loads(self.manifest.read_text())["segments"]]
        except (OSError, ValueError, KeyError):
            return []

    def kill_when(self, run: subprocess.Popen, ready, what: str) -> None:
        deadline = time.monotonic() + 120
        while not ready():
            assert run.poll() is None, f"the run ended before {what}: {run.stderr.read().decode()}"
            assert time.monotonic() < deadline, f"no {what} in 120 s"
            time.sleep(0.02)
        ray = descendants(run.pid)
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=30)
        deadline = time.monotonic() + 20  # the watchdog's grace is 2 s, then SIGKILL
        while alive(ray) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive(ray) == [], f"processes of the killed run's Ray still running 20 s after {what}"
        assert not self.target.exists()


def test_a_run_killed_after_planning_mid_segment_and_in_the_join_resumes_to_the_plain_output(tmp_path):
    from vsr.api import prepare_runner
    from vsr.video import upscale_video

    source = write_clip(tmp_path / "clip.mkv", frames=FRAMES, width=160, height=120, gop=SEGMENT, audio="aac")
    plain = tmp_path / "plain.mkv"
    upscale_video(source, plain, prepare_runner("espcn", 2, backend="torch"), codec="ffv1")
    folder = tmp_path / "home"
    (folder / "vsr").mkdir(parents=True)  # a folder named like the package, as in a checkout's parent
    (folder / "drive.py").write_text(DRIVER)
    chain = Chain(folder, source, tmp_path / "out.mkv")

    chain.kill_when(chain.start(), lambda: len(chain.states()) > 0, "planning")
    assert set(chain.states()) == {"pending"}

    # Without the pause, the window between the first segment recorded and the last can be
    # shorter than a poll: on a fast machine the run finished inside it (CI, 2026-12-07).
    recorded = tmp_path / "recorded"
    chain.kill_when(chain.start(VSR_TEST_PAUSE_RECORDED=str(recorded)), recorded.exists, "a segment done")
    assert chain.states().count("done") == 1 < len(chain.states())

    marker = tmp_path / "joining"
    chain.kill_when(chain.start(VSR_TEST_PAUSE_JOIN=str(marker)), marker.exists, "the join halfway")
    assert set(chain.states()) == {"done"}

    last = chain.start()
    _, stderr = last.communicate(timeout=300)
    assert last.returncode == 0, stderr.decode()
    assert "removed 1 temporary file of an earlier run that was killed (.out.mkv." in stderr.decode()  # the join's
    a, b = probe(plain), probe(chain.target)
    assert b["frames"] == FRAMES and b["pts"] == a["pts"]
    for info in (a, b):
        info["streams"][0].pop("payload_md5")  # ffv1 packets differ by encoder run; pictures must not
    assert b == a  # every stream, timestamp, tag
    for x, y in zip(luma_planes(plain), luma_planes(chain.target), strict=True):
        np.testing.assert_array_equal(x, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "home", "joining", "out.mkv", "plain.mkv", "recorded"]
    assert sorted(p.name for p in folder.iterdir()) == ["drive.py", "vsr"]


def test_a_second_run_into_the_same_output_is_refused_at_once(tmp_path):
    from vsr.cluster import ClusterSettings, upscale_cluster
    from vsr.errors import OutputError
    from vsr.files import claim_output

    source = write_clip(tmp_path / "clip.mkv", frames=8, width=32, height=24, gop=4)
    with claim_output(tmp_path / "out.mkv"):  # as a first run holds it, for as long as it runs
        with pytest.raises(OutputError, match="another vsr run"):
            upscale_cluster(source, tmp_path / "out.mkv", ClusterSettings(backend="torch"), segment_frames=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"]  # its work folder untouched: none made


def test_sigterm_stops_a_run_as_ctrl_c_does_and_its_ray_with_it(tmp_path):
    # Ray's core replaces the program's SIGTERM handler with one that dumps a stack and aborts,
    # and turns exceptions raised by handlers into plain KeyboardInterrupts: neither may happen.
    source = write_clip(tmp_path / "clip.mkv", frames=FRAMES, width=160, height=120, gop=SEGMENT)
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "drive.py").write_text(DRIVER)
    chain = Chain(folder, source, tmp_path / "out.mkv")
    # Stopped mid-run, held by the driver's pause once the first segment is recorded, so that
    # the run cannot end before the signal comes.
    recorded = tmp_path / "recorded"
    run = chain.start(VSR_TEST_PAUSE_RECORDED=str(recorded))
    deadline = time.monotonic() + 120
    while not recorded.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read().decode()
        time.sleep(0.02)
    ray = descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)
    assert (run.returncode, stderr.decode().strip()) == (128 + signal.SIGTERM, "vsr: terminated (SIGTERM)")
    assert alive(ray) == [] and not chain.target.exists()
    assert "done" in chain.states()  # what was done stays done for the rerun
