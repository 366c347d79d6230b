"""Beyond one node: vsr joins a two-node Ray cluster by address and survives losing a node.

The cluster is Ray's own multi-node test cluster (``ray.cluster_utils.Cluster``) on this machine:
a head node and a worker node with one CPU each, each its own raylet, joined by vsr with
``address=HOST:PORT`` as it would join a real one. While the worker node runs a segment, the
node is killed outright (its raylet and workers, SIGKILL); Ray retries the lost segment on the
head node, and the output must still be the plain run's: frames, every PTS, every stream, and
(ffv1) every picture.

It runs in a subprocess of its own: the other --cluster tests share one local Ray in this
process, and a process can be connected to one Ray only. Takes about a minute on 2 cores.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.video_clips import luma_planes, probe, write_clip

pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")

FRAMES, SEGMENT = 24, 6

SCRIPT = '''\
import json, os, sys, threading, time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from vsr.cluster import ClusterSettings, upscale_cluster

source, target, report = sys.argv[1:4]
# A dead node is noticed in about two seconds (Ray's defaults wait longer, for real networks).
config = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 4}
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "_system_config": config})
worker = cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
killed = []


def running_segment(raylet: int):
    """A worker process of ``raylet`` that is running a segment task, or None."""
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
            title = Path(f"/proc/{name}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat[stat.rindex(b")") + 2 :].split()[1]) == raylet and title.startswith(b"ray::_segment_task"):
            return int(name)
    return None


def kill_the_worker_node_mid_segment():
    raylet = worker.all_processes["raylet"][0].process.pid
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        pid = running_segment(raylet)
        if pid is not None:
            cluster.remove_node(worker, allow_graceful=False)
            killed.append(pid)
            return
        time.sleep(0.02)


threading.Thread(target=kill_the_worker_node_mid_segment, daemon=True).start()
warnings = []
result = upscale_cluster(
    source, target, ClusterSettings(backend="torch", codec="ffv1"), address=cluster.address,
    segment_frames=%(segment)d, warn=warnings.append,
)
Path(report).write_text(json.dumps({"killed": killed, "segments_run": result.segments_run, "segments": result.videos[0].segments,
                                    "cluster": result.cluster, "warnings": warnings}))
ray.shutdown()
cluster.shutdown()
'''


def test_a_worker_node_killed_mid_segment_still_gives_the_plain_output(tmp_path):
    from vsr.api import prepare_runner
    from vsr.video import upscale_video

    source = write_clip(tmp_path / "clip.mkv", frames=FRAMES, width=64, height=48, gop=SEGMENT, audio="aac", subtitles=True)
    plain = tmp_path / "plain.mkv"
    upscale_video(source, plain, prepare_runner("espcn", 2, backend="torch"), codec="ffv1")
    script, target, report = tmp_path / "two_nodes.py", tmp_path / "out.mkv", tmp_path / "report.json"
    script.write_text(SCRIPT % {"segment": SEGMENT})
    run = subprocess.run([sys.executable, str(script), str(source), str(target), str(report)], cwd=tmp_path, capture_output=True, timeout=400)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    facts = json.loads(report.read_text())
    assert facts["killed"], "the worker node never ran a segment"
    assert facts["segments_run"] == facts["segments"] >= 3, facts
    a, b = probe(plain), probe(target)
    assert b["frames"] == FRAMES and b["pts"] == a["pts"]
    for info in (a, b):
        info["streams"][0].pop("payload_md5")  # ffv1 packets differ by encoder run; pictures must not
    assert b == a  # every stream (sound, subtitles), timestamp and tag
    for x, y in zip(luma_planes(plain), luma_planes(target), strict=True):
        np.testing.assert_array_equal(x, y)
