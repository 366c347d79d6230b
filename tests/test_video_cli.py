"""`vsr upscale` on videos, run as a user runs it: pipes, bad inputs, Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO, assert_cli_error, assert_one_line_error, run_vsr
from tests.video_clips import leftovers, probe, write_audio_only, write_clip


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "text.mp4").write_text("this is not a video\n" * 50)
    (folder / "empty.mkv").write_bytes(b"")
    y4m = write_clip(folder / "cut.y4m", frames=3)
    y4m.write_bytes(y4m.read_bytes()[:-200])
    mkv = write_clip(folder / "cut.mkv", frames=30)
    mkv.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])
    write_audio_only(folder / "sound.m4a")
    avi = write_clip(folder / "alien.avi", codec="mpeg4", frames=2)
    avi.write_bytes(avi.read_bytes().replace(b"FMP4", b"QQQQ"))
    (folder / "none.y4m").write_bytes(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420jpeg\n")
    (folder / "badhead.y4m").write_bytes(b"YUV4MPEG2 W32 Hxx F25:1\nFRAME\n" + bytes(1152))
    from tests.test_video_reader import write_cover_art_mp3

    write_cover_art_mp3(folder / "song.mp3")
    write_clip(folder / "alpha.mkv", codec="ffv1", pix_fmt="yuva420p", frames=2)
    write_clip(folder / "good.y4m", frames=2)
    return folder


BAD_INPUTS = {
    "not a video": ("text.mp4", "not a video file"),
    "empty file": ("empty.mkv", "empty file"),
    "truncated y4m": ("cut.y4m", "truncated"),
    "truncated mkv": ("cut.mkv", "truncated"),
    "no video stream": ("sound.m4a", "no video stream"),
    "unknown codec": ("alien.avi", "cannot decode"),
    "zero frames": ("none.y4m", "no frames"),
    "bad y4m header": ("badhead.y4m", "badhead.y4m: bad y4m header (picture size 32x0 is invalid)"),
    "cover art only": ("song.mp3", "song.mp3: no video stream (streams: audio, cover picture)"),
    "unsupported pixel format": ("alpha.mkv", "pixel format yuva420p"),
}
BAD_OUTPUTS = {
    "missing directory": ("missing-dir/out.mp4", [], "output directory does not exist"),
    "unknown extension": ("out.avi", [], "cannot write video with extension .avi"),
    "codec y4m cannot hold": ("out.y4m", ["--codec", "libx264"], "uncompressed"),
    "unwritable directory": (None, [], "not writable"),
}


@pytest.fixture(scope="module")
def bad_runs(bad_inputs, espcn_weights, tmp_path_factory):
    """Every bad-input and bad-output command, run at once (each is a fresh interpreter)."""
    jobs = {}
    for case, (name, _) in BAD_INPUTS.items():
        out = tmp_path_factory.mktemp("out")
        jobs[case] = (out, ["upscale", bad_inputs / name, out / "out.mp4", "--weights", espcn_weights[2]])
    for case, (target, flags, _) in BAD_OUTPUTS.items():
        out = tmp_path_factory.mktemp("out")
        if target is None:
            locked = out / "locked"
            locked.mkdir()
            locked.chmod(0o555)
            # root may write anywhere; /proc refuses new files even to root.
            target = locked / "out.mp4" if not os.access(locked, os.W_OK) else "/proc/vsr-test-out.mp4"
        else:
            target = out / target
        jobs[case] = (out, ["upscale", bad_inputs / "good.y4m", target, *flags, "--weights", espcn_weights[2]])
    out = tmp_path_factory.mktemp("out")
    jobs["stdin not y4m"] = (out, ["upscale", "-", "-", "--weights", espcn_weights[2]])
    out = tmp_path_factory.mktemp("out")
    jobs["truncated y4m on stdin"] = (out, ["upscale", "-", out / "out.mp4", "--weights", espcn_weights[2]])
    stdin = {"stdin not y4m": b"hello", "truncated y4m on stdin": (bad_inputs / "cut.y4m").read_bytes()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case: pool.submit(run_vsr, *args, input=stdin.get(case)) for case, (_, args) in jobs.items()}
        results = {case: (jobs[case][0], future.result()) for case, future in futures.items()}
    for out, _ in results.values():
        for folder in out.rglob("*"):
            if folder.is_dir():
                folder.chmod(0o755)
    return results


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_and_leaves_nothing(bad_runs, case):
    out, result = bad_runs[case]
    assert_one_line_error(result, BAD_INPUTS[case][1])
    assert files_under(out) == []


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_bad_output_gives_one_line_and_leaves_nothing(bad_runs, case):
    out, result = bad_runs[case]
    assert_one_line_error(result, BAD_OUTPUTS[case][2])
    assert files_under(out) == []


def test_y4m_through_stdin_and_stdout(espcn_weights, tmp_path):
    clip = write_clip(tmp_path / "in.y4m", frames=5, width=30, height=18)
    result = run_vsr("upscale", "-", "-", "--weights", espcn_weights[2], input=clip.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"YUV4MPEG2 W60 H36 F25:1")
    (tmp_path / "out.y4m").write_bytes(result.stdout)
    info = probe(tmp_path / "out.y4m")
    assert (info["frames"], info["width"], info["height"]) == (5, 60, 36)
    assert b"\n" not in result.stderr.strip() or result.stderr == b""


def test_not_y4m_on_stdin_is_one_line(bad_runs):
    out, result = bad_runs["stdin not y4m"]
    assert_one_line_error(result, "stdin: not a video stream FFmpeg can read")
    assert result.stdout == b""


def test_truncated_y4m_on_stdin_is_refused_as_the_same_file_is(bad_runs):
    # The y4m demuxer drops an incomplete last frame without a word; a pipe has no size to check.
    out, result = bad_runs["truncated y4m on stdin"]
    line = assert_one_line_error(result, "stdin: truncated (the last frame is incomplete")
    _, as_file = bad_runs["truncated y4m"]
    assert line.split("truncated", 1)[1] == as_file.stderr.decode().strip().split("truncated", 1)[1]
    assert files_under(out) == []


def test_existing_output_needs_y(bad_inputs, espcn_weights, tmp_path, cli):
    target = tmp_path / "out.mkv"
    target.write_bytes(b"keep me")
    assert_cli_error(cli("upscale", bad_inputs / "good.y4m", target, "--weights", espcn_weights[2]), "already exists")
    assert target.read_bytes() == b"keep me"
    code, stderr = cli("upscale", bad_inputs / "good.y4m", target, "-y", "--weights", espcn_weights[2])
    assert code == 0 and stderr.strip().startswith(f"vsr: wrote {target}: 2 -> 2 frames"), stderr
    assert probe(target)["frames"] == 2


def start_long_run(clip, target, weights):
    """A `vsr upscale` subprocess, returned once it has begun writing its temporary file."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vsr", "upscale", str(clip), str(target), "--weights", str(weights), "--batch", "1"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".vsr-part") for p in target.parent.iterdir()):
        if process.poll() is not None:
            pytest.fail(f"the job ended before it could be interrupted: {process.communicate()[1].decode()}")
        assert time.monotonic() < deadline, "the job did not start writing within a minute"
        time.sleep(0.02)
    return process


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    # Long enough that a fast CPU engine (OpenVINO bf16: ~1 ms a frame here) cannot finish it
    # between the test seeing the temporary file and its signal arriving on a loaded machine.
    return write_clip(tmp_path_factory.mktemp("long") / "long.y4m", frames=600, width=160, height=120)


@pytest.mark.parametrize(
    "sig, code, line",
    [(signal.SIGINT, 130, "vsr: interrupted"), (signal.SIGTERM, 143, "vsr: terminated (SIGTERM)"), (signal.SIGHUP, 129, "vsr: terminated (SIGHUP)")],
)
def test_ctrl_c_term_and_hangup_stop_cleanly_and_leave_nothing(espcn_weights, tmp_path, long_clip, sig, code, line):
    process = start_long_run(long_clip, tmp_path / "out.mkv", espcn_weights[2])
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert stderr.decode().strip() == line
    assert leftovers(tmp_path, set()) == []


def test_the_run_after_a_killed_one_removes_its_stale_temporary_file(espcn_weights, tmp_path, long_clip, cli):
    target = tmp_path / "out.mkv"
    process = start_long_run(long_clip, target, espcn_weights[2])
    process.kill()  # SIGKILL: nothing of vsr runs
    process.communicate(timeout=60)
    stale = [p.name for p in tmp_path.iterdir() if p.name.endswith(".vsr-part")]
    assert len(stale) == 1 and f".{process.pid}." in stale[0]
    clip = write_clip(tmp_path / "short.y4m", frames=2)
    code, stderr = cli("upscale", clip, target, "--weights", espcn_weights[2])
    assert code == 0, stderr
    assert f"vsr: warning: removed 1 temporary file of an earlier run that was killed ({stale[0]})" in stderr.splitlines()
    assert leftovers(tmp_path, {"short.y4m", "out.mkv"}) == []
    assert probe(target)["frames"] == 2


def test_a_second_run_into_the_same_output_is_refused_while_the_first_runs(espcn_weights, tmp_path, long_clip, cli):
    target = tmp_path / "out.mkv"
    first = start_long_run(long_clip, target, espcn_weights[2])
    try:
        clip = write_clip(tmp_path / "short.y4m", frames=2)
        line = assert_cli_error(cli("upscale", clip, target, "--weights", espcn_weights[2]), "another vsr run")
        assert f"(pid {first.pid})" in line and "out.mkv" in line
        assert not target.exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 143
    assert leftovers(tmp_path, {"short.y4m"}) == []


def test_damaged_frames_are_counted_in_a_warning(tmp_path, espcn_weights, cli):
    from tests.test_video_reader import damaged_h264

    _, damaged = damaged_h264(tmp_path)
    code, stderr = cli("upscale", damaged, tmp_path / "out.mkv", "--weights", espcn_weights[2])
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "decode errors" in line]
    assert len(warnings) == 1 and warnings[0].startswith("vsr: warning: ")
    assert " of 40 frames had decode errors (damaged input)" in warnings[0]


def test_a_second_video_stream_is_copied_with_a_note(tmp_path, espcn_weights, cli):
    import av

    from tests.video_clips import planes_for

    src = tmp_path / "two.mkv"
    with av.open(str(src), "w") as out:
        streams = []
        for width, height in ((32, 24), (48, 32)):
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append(stream)
        for i in range(3):
            for stream in streams:
                frame = planes_for("yuv420p", stream.width, stream.height, i)
                frame.pts = i
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode(None))
    code, stderr = cli("upscale", src, tmp_path / "out.mkv", "--weights", espcn_weights[2])
    assert code == 0, stderr
    assert "#1 video (h264 48x32) copied as it is, not upscaled: vsr upscales the first video stream only" in stderr
    with av.open(str(tmp_path / "out.mkv")) as result:
        assert [(s.codec_context.width, s.codec_context.height) for s in result.streams.video] == [(64, 48), (48, 32)]
