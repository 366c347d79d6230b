"""--cluster never upscales less than the input holds, nor joins a part that is not what was written.

A truncated input is refused at planning, as the plain reader refuses it, and a segment that ends
the file gets the plain reader's end-of-file checks too. On a rerun, every part kept from before
is checked (SHA-256 as recorded, and that it decodes to its recorded frame count); a part that
fails is done again, and the run says so.
"""
from pathlib import Path

import av
import pytest

from tests.video_clips import leftovers, write_clip
from vsr.cluster.segment_reader import SegmentReader
from vsr.cluster.segments import plan_segments
from vsr.errors import InputError
from vsr.video.ffmpeg_log import captured_ffmpeg_log


def faststart_mp4(source: Path, target: Path) -> Path:
    """``source``'s video remuxed into an MP4 with its index first, as streaming sites serve it:
    cut short, it still opens, and FFmpeg's demuxer stops at the cut without raising."""
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    return target


def first_half(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


@pytest.mark.parametrize("kind, message", [("mp4", "partial file"), ("mkv", "ended prematurely"), ("y4m", "last frame is incomplete")])
def test_planning_refuses_a_truncated_input_as_the_plain_reader_does(tmp_path, kind, message):
    clip = write_clip(tmp_path / f"clip.{kind}", frames=40, width=64, height=48, gop=10)
    if kind == "mp4":
        clip = faststart_mp4(clip, tmp_path / "fast.mp4")
    assert len(plan_segments(clip, frames=10).segments) >= 3  # whole, it plans
    with pytest.raises(InputError, match=message):
        plan_segments(first_half(clip, tmp_path / f"half.{kind}"), frames=10)


def test_a_cluster_run_of_half_an_mp4_is_refused_before_any_work(tmp_path):
    pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")
    from vsr.cluster import ClusterSettings, upscale_cluster

    # The case: the first half of a 120-frame MP4 gave exit 0 and a 55-frame output.
    clip = faststart_mp4(write_clip(tmp_path / "a.mkv", frames=120, width=64, height=48, gop=30), tmp_path / "a.mp4")
    half = first_half(clip, tmp_path / "t.mp4")
    with pytest.raises(InputError, match="partial file"):
        upscale_cluster(half, tmp_path / "o.mp4", ClusterSettings(backend="torch"), segment_frames=30)
    assert leftovers(tmp_path, {"a.mkv", "a.mp4", "t.mp4"}) == []  # no work folder, no output


def test_the_segment_that_ends_the_file_gets_the_end_of_file_checks(tmp_path):
    clip = write_clip(tmp_path / "a.y4m", frames=12, width=16, height=16)
    plan = plan_segments(clip, frames=4)
    # Half a frame more since the plan: the y4m demuxer drops it without a word.
    with open(clip, "ab") as f:
        f.write(b"FRAME\n" + b"\x80" * 100)
    *inner, last = plan.segments
    for segment in inner:  # the file does not end with these: nothing to tell
        with captured_ffmpeg_log() as log, SegmentReader(clip, segment, log) as reader:
            assert sum(1 for _ in reader.items()) == segment.packets
    with pytest.raises(InputError, match="last frame is incomplete"):
        with captured_ffmpeg_log() as log, SegmentReader(clip, last, log) as reader:
            list(reader.items())


# -- reused parts ---------------------------------------------------------------------------------

SEGMENT = 6


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume-src")
    return write_clip(folder / "clip.mkv", frames=24, width=64, height=48, gop=SEGMENT, audio="aac")


@pytest.fixture(scope="module")
def single(clip, tmp_path_factory):
    from vsr.api import prepare_runner
    from vsr.video import upscale_video

    target = tmp_path_factory.mktemp("resume-single") / "single.mkv"
    upscale_video(clip, target, prepare_runner("espcn", 2, backend="torch"), codec="ffv1")
    return target


def interrupted_run(clip, target, after: int):
    """A run stopped (as by Ctrl-C) once ``after`` segments are recorded done; their records."""
    from vsr.cluster import ClusterSettings, upscale_cluster
    from vsr.cluster.manifest import DONE, Manifest
    from vsr.cluster.run import work_folder

    recorded = []

    def stop(video, segment):
        recorded.append(segment)
        if len(recorded) == after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upscale_cluster(clip, target, ClusterSettings(backend="torch", codec="ffv1"), segment_frames=SEGMENT, warn=lambda _: None, on_segment=stop)
    manifest = Manifest.load(work_folder(target))
    return manifest, [r for r in manifest.segments if r.state == DONE]


def rerun(clip, target):
    from vsr.cluster import ClusterSettings, upscale_cluster

    warnings = []
    result = upscale_cluster(clip, target, ClusterSettings(backend="torch", codec="ffv1"), segment_frames=SEGMENT, warn=warnings.append)
    return result, warnings


def test_a_part_changed_in_place_is_done_again_and_the_run_says_so(local_ray, clip, single, tmp_path):
    from tests.video_clips import luma_planes, probe

    target = tmp_path / "out.mkv"
    manifest, done = interrupted_run(clip, target, after=2)
    changed = manifest.part_path(done[0])
    size = changed.stat().st_size
    with open(changed, "r+b") as f:  # 320 bytes inside the frame data, same size (the case)
        f.seek(size // 2)
        f.write(bytes(320))
    assert changed.stat().st_size == size == done[0].size

    result, warnings = rerun(clip, target)
    assert [w for w in warnings if "done again" in w] == [
        f"{changed}: its bytes changed (SHA-256 differs from the one recorded); segment {done[0].segment.index} is done again"
    ]
    assert (result.segments_reused, result.segments_run) == (1, len(manifest.segments) - 1)
    assert probe(target)["pts"] == probe(single)["pts"]
    for a, b in zip(luma_planes(single), luma_planes(target), strict=True):
        assert (a == b).all()  # every picture as the single-machine run's: the damaged part was not joined
    assert leftovers(tmp_path, {"out.mkv"}) == []


def test_a_part_that_does_not_decode_to_its_frames_is_done_again(local_ray, clip, tmp_path):
    from vsr.cluster.run import work_folder

    target = tmp_path / "out.mkv"
    manifest, done = interrupted_run(clip, target, after=1)
    record = done[0]
    record.frames += 1  # same bytes, but not what the record says was written
    manifest.save()

    result, warnings = rerun(clip, target)
    assert f"{manifest.part_path(record)}: it decodes to {record.frames - 1} frames, {record.frames} were written; segment {record.segment.index} is done again" in warnings
    assert result.segments_reused == 0 and result.frames == 24
    assert not work_folder(target).exists()


def test_part_problem_checks_size_hash_and_pictures(tmp_path):
    from vsr.cluster.part_check import part_problem
    from vsr.files import sha256_file

    part = write_clip(tmp_path / "part.mkv", frames=6, width=32, height=24, codec="ffv1")
    size, digest = part.stat().st_size, sha256_file(part)
    assert part_problem(part, 6, size, digest) is None
    assert part_problem(part, 6, size + 1, digest) == f"its size changed ({size} bytes, {size + 1} were written)"
    assert part_problem(part, 5, size, digest) == "it decodes to 6 frames, 5 were written"
    assert part_problem(tmp_path / "gone.mkv", 6, size, digest) == "it is gone"
    # Bytes that are not a video but hash as recorded (a task that wrote garbage): it must decode.
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\0" * 64)
    assert part_problem(junk, 6, 64, sha256_file(junk)).startswith("it does not decode")


def test_a_rerun_waits_for_a_task_of_the_earlier_run_that_still_holds_its_part(local_ray, clip, single, tmp_path):
    import threading
    import time

    from tests.video_clips import luma_planes
    from vsr.cluster.manifest import PENDING
    from vsr.files import claim_output

    target = tmp_path / "out.mkv"
    manifest, _ = interrupted_run(clip, target, after=1)
    part = manifest.part_path(next(r for r in manifest.segments if r.state == PENDING))
    held = claim_output(part)  # as a task of the stopped run holds it until Ray has ended it
    threading.Timer(1.5, held.release).start()
    start = time.monotonic()
    result, _ = rerun(clip, target)
    assert time.monotonic() - start >= 1.5 and result.frames == 24
    for a, b in zip(luma_planes(single), luma_planes(target), strict=True):
        assert (a == b).all()
