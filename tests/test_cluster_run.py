"""vsr upscale --cluster on a local Ray with 2 CPUs: same file as one machine, resumes, survives a lost worker.

One Ray instance serves the whole session (the ``local_ray`` fixture); the clips are tiny, so
these tests take well under a minute on 2 cores.
"""
import os
import signal
import threading
import time

import numpy as np
import pytest

from tests.processes import descendants, title
from tests.video_clips import leftovers, luma_planes, probe, write_clip
from vsr.api import prepare_runner
from vsr.cluster import ClusterSettings, upscale_cluster
from vsr.cluster.manifest import DONE, Manifest
from vsr.cluster.run import work_folder
from vsr.cluster.segments import plan_segments
from vsr.errors import ConfigError, InputError, OutputError
from vsr.video import upscale_video

pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")

FRAMES, SEGMENT = 36, 6
LOSSLESS = ClusterSettings(backend="torch", codec="ffv1")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A few dozen frames, a keyframe every 6, with sound, subtitles, chapters and tags."""
    folder = tmp_path_factory.mktemp("cluster-src")
    return write_clip(
        folder / "clip.mkv", frames=FRAMES, width=64, height=48, gop=SEGMENT, audio="aac", subtitles=True,
        chapters=True, metadata={"title": "clip"}, stream_metadata={"title": "picture"},
    )


@pytest.fixture(scope="module")
def single(clip, tmp_path_factory):
    """The single-machine outputs to compare with: ffv1 in Matroska (lossless) and x264 in MP4."""
    folder = tmp_path_factory.mktemp("single")
    runner = prepare_runner("espcn", 2, backend="torch")
    upscale_video(clip, folder / "single.mkv", runner, codec="ffv1")
    upscale_video(clip, folder / "single.mp4", runner, warn=lambda _: None)
    return folder


def segments(source) -> int:
    return len(plan_segments(source, frames=SEGMENT).segments)


def run(source, target, settings=LOSSLESS, **options):
    warnings = []
    result = upscale_cluster(source, target, settings, segment_frames=SEGMENT, warn=warnings.append, **options)
    return result, warnings


def without_video_payload(info):
    info = dict(info, streams=[dict(s) for s in info["streams"]])
    info["streams"][0].pop("payload_md5")
    return info


def assert_same_pixels(a, b):
    for x, y in zip(luma_planes(a), luma_planes(b), strict=True):
        np.testing.assert_array_equal(x, y)


def psnr_per_frame(a, b) -> list[float]:
    out = []
    for x, y in zip(luma_planes(a), luma_planes(b), strict=True):
        mse = np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2)
        out.append(float("inf") if mse == 0 else 10 * np.log10(255**2 / mse))
    return out


def test_cluster_output_is_the_single_machine_output(local_ray, clip, single, tmp_path):
    result, _ = run(clip, tmp_path / "out.mkv")
    assert result.segments_run == result.videos[0].segments == segments(clip) >= 3
    a, b = probe(single / "single.mkv"), probe(tmp_path / "out.mkv")
    assert b["frames"] == FRAMES == result.frames
    assert without_video_payload(b) == without_video_payload(a)  # every PTS, stream, tag and chapter
    assert_same_pixels(single / "single.mkv", tmp_path / "out.mkv")  # bit-exact
    assert leftovers(tmp_path, {"out.mkv"}) == []  # work folder and temporary files gone


def test_lossy_output_has_the_same_frames_timestamps_and_streams(local_ray, clip, single, tmp_path):
    # x264 starts a GOP in every part, so pictures differ a little near the joins; all else is equal.
    _result, warnings = run(clip, tmp_path / "out.mp4", ClusterSettings(backend="torch"))
    a, b = probe(single / "single.mp4"), probe(tmp_path / "out.mp4")
    assert without_video_payload(b) == without_video_payload(a)
    assert min(psnr_per_frame(single / "single.mp4", tmp_path / "out.mp4")) > 35
    assert any("subtitle srt re-encoded to mov_text" in w for w in warnings)


def test_a_run_interrupted_after_some_segments_redoes_only_the_rest(local_ray, clip, single, tmp_path):
    target = tmp_path / "out.mkv"
    recorded = []

    def interrupt_after_two(video, segment):
        recorded.append(segment)
        if len(recorded) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(clip, target, on_segment=interrupt_after_two)
    assert not target.exists()
    manifest = Manifest.load(work_folder(target))
    assert sorted(i for i, r in enumerate(manifest.segments) if r.state == DONE) == sorted(recorded)

    result, _ = run(clip, target)  # the same command again
    assert (result.segments_reused, result.segments_run) == (2, segments(clip) - 2)
    assert_same_pixels(single / "single.mkv", target)
    assert probe(target)["pts"] == probe(single / "single.mkv")["pts"]
    assert leftovers(tmp_path, {"out.mkv"}) == []


def test_a_worker_killed_mid_segment_is_retried(local_ray, clip, single, tmp_path):
    killed = []

    def kill_the_first_segment_task():  # SIGKILL, as the OOM killer or a lost machine would
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for pid in descendants(os.getpid()):  # the local Ray's workers are this process's
                if title(pid).startswith(b"ray::_segment_task"):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_the_first_segment_task, daemon=True)
    watcher.start()
    result, _ = run(clip, tmp_path / "out.mkv")
    watcher.join()
    assert killed  # a worker died running a segment ...
    assert result.segments_run == segments(clip)  # ... and another attempt did the segment
    assert_same_pixels(single / "single.mkv", tmp_path / "out.mkv")


def test_a_segment_with_bad_data_fails_the_run_with_its_reason(local_ray, clip, tmp_path):
    source = tmp_path / "clip.mkv"
    source.write_bytes(clip.read_bytes())
    target = tmp_path / "out.mkv"

    def stop(video, segment):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # planned, one segment done
        run(source, target, on_segment=stop)
    # The last segment's first block is damaged in place (same size and date, so the run resumes).
    last = Manifest.load(work_folder(target)).segments[-1].segment
    stat = source.stat()
    with open(source, "r+b") as f:
        f.seek(last.start.pos - 8)
        f.write(b"\xff" * 16)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    start = time.perf_counter()
    with pytest.raises(InputError, match=f"segment {last.index}.*changed"):
        run(source, target)
    # Failed, not retried over and over. The bound leaves room for a rerun's wait for the stopped
    # run's tasks (up to 30 s) on a loaded 2-core machine: 38 s were seen with training beside it.
    assert time.perf_counter() - start < 60
    assert not target.exists()
    manifest = Manifest.load(work_folder(target))
    assert manifest.segments[-1].state != DONE
    for record in manifest.segments:  # nothing half-written is called done
        assert (record.state == DONE) == manifest.part_path(record).exists()


def test_an_encoder_error_in_the_tasks_fails_at_once(local_ray, clip, tmp_path):
    with pytest.raises(ConfigError, match="cannot encode yuv420p12le"):
        run(clip, tmp_path / "out.mp4", ClusterSettings(backend="torch", pix_fmt="yuv420p12le"))
    with pytest.raises(OutputError, match="other settings"):
        run(clip, tmp_path / "out.mp4", ClusterSettings(backend="torch"))
    result, _ = run(clip, tmp_path / "out.mp4", ClusterSettings(backend="torch"), overwrite=True)
    assert result.frames == FRAMES and leftovers(tmp_path, {"out.mp4"}) == []


def test_a_folder_and_a_list_of_videos(local_ray, clip, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.mkv").write_bytes(clip.read_bytes())
    write_clip(folder / "b.y4m", frames=14, width=32, height=24)
    result, _ = run(folder, tmp_path / "out")
    assert [v.target for v in result.videos] == [str(tmp_path / "out" / "a.mkv"), str(tmp_path / "out" / "b.mkv")]
    assert [probe(v.target)["frames"] for v in result.videos] == [FRAMES, 14]
    assert result.segments_run == segments(clip) + segments(folder / "b.y4m")
    assert sorted(os.listdir(tmp_path / "out")) == ["a.mkv", "b.mkv"]

    (tmp_path / "list.txt").write_text("in/b.y4m\n")
    result, _ = run(tmp_path / "list.txt", tmp_path / "out2")
    assert [probe(v.target)["frames"] for v in result.videos] == [14]


@pytest.mark.parametrize(
    "settings, cluster_has_gpus, cpus, gpus",
    [
        (ClusterSettings(), False, 1, 0),
        (ClusterSettings(), True, 1, 1),  # auto on a cluster with GPUs
        (ClusterSettings(device="cpu", threads=3), True, 3, 0),
        (ClusterSettings(backend="onnxruntime"), True, 1, 0),
        (ClusterSettings(device="cuda:0"), False, 1, 1),
        (ClusterSettings(backend="tensorrt", threads=2), False, 2, 1),
    ],
)
def test_tasks_ask_for_the_resources_their_backend_needs(clip, settings, cluster_has_gpus, cpus, gpus):
    from vsr.cluster.ray_runner import MAX_RETRIES, RayCluster
    from vsr.cluster.task import SegmentJob

    job = SegmentJob(0, str(clip), plan_segments(clip, frames=SEGMENT).segments[0], "part.mkv", False, settings)
    options, job = RayCluster().task_options(job, cluster_has_gpus)
    assert (options["num_cpus"], options["num_gpus"]) == (cpus, gpus)
    assert (options["max_retries"], options["retry_exceptions"]) == (MAX_RETRIES, False)
    assert job.settings.threads == cpus  # inference threads = the CPUs the task holds


def test_a_relative_weights_path_is_the_driver_s(local_ray, clip, espcn_weights, tmp_path, monkeypatch):
    # Tasks run in Ray's own folders (on any node): the path must be made absolute before it travels.
    (tmp_path / "w.safetensors").write_bytes(espcn_weights[2].read_bytes())
    monkeypatch.chdir(tmp_path)
    result, _ = run(clip, tmp_path / "out.mkv", ClusterSettings(backend="torch", codec="ffv1", weights="w.safetensors"))
    assert result.frames == FRAMES
