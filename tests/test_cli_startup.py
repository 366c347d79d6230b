"""The CLI parses arguments and refuses bad jobs before it imports torch (a 2 s start-up)."""
import subprocess
import sys

import pytest

from tests.conftest import cpu_default_engine
from vsr.backends import BACKEND_NAMES
from vsr.cli.common import BACKEND_CHOICES, MODEL_CHOICES
from vsr.models import list_models


def test_cli_choices_match_the_registries():
    assert tuple(MODEL_CHOICES) == tuple(list_models())
    assert tuple(BACKEND_CHOICES) == tuple(BACKEND_NAMES)


def _refuse_without_torch(tmp_path, *argv):
    """Run ``vsr ARGV`` in a fresh interpreter; return (exit code, stderr, whether torch got imported)."""
    code = (
        "import sys\n"
        "from vsr.cli.main import main\n"
        f"rc = main({list(argv)!r})\n"
        "print('torch' in sys.modules, rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    torch_loaded, rc = done.stdout.split()
    return int(rc), done.stderr, torch_loaded == "True"


@pytest.mark.parametrize("case", ["not-a-video", "missing", "exists", "bad-extension", "bad-image"])
def test_bad_jobs_fail_before_torch_loads(tmp_path, case):
    (tmp_path / "junk.mp4").write_text("not a video")
    (tmp_path / "junk.png").write_text("not an image")
    (tmp_path / "taken.mp4").write_bytes(b"")
    argv = {
        "not-a-video": ("upscale", "junk.mp4", "out.mp4"),
        "missing": ("upscale", "nothing.mp4", "out.mp4"),
        "exists": ("upscale", "junk.mp4", "taken.mp4"),
        "bad-extension": ("upscale", "junk.mp4", "out.xyz"),
        "bad-image": ("upscale", "junk.png", "out.png"),
    }[case]
    rc, stderr, torch_loaded = _refuse_without_torch(tmp_path, *argv)
    assert rc == 1
    assert stderr.startswith("vsr: error: ") and stderr.count("\n") == 1, stderr
    assert not torch_loaded
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.png").exists()


def test_help_does_not_import_torch():
    code = "import sys\nfrom vsr.cli.main import build_parser\nbuild_parser().format_help()\nprint('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("kind", ["video", "image"])
def test_a_repeated_cpu_job_runs_without_torch_and_writes_the_same(tmp_path, kind, monkeypatch):
    # The first run exports the graph and leaves its card; the second finds it from the weights
    # file's hash (vsr.backends.cached_start) and never imports torch.
    pytest.importorskip("onnxruntime")
    import av
    import numpy as np

    from tests.video_clips import write_clip
    from vsr.backends import bf16_speed

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if kind == "video":
        source = write_clip(tmp_path / "in.mp4", frames=4, width=48, height=32)
    else:
        source = tmp_path / "in.png"
        av.VideoFrame.from_ndarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8), format="rgb24").to_image().save(source)
    outputs = []
    for run in ("first", "second"):
        target = tmp_path / f"{run}{source.suffix}"
        rc, stderr, torch_loaded = _refuse_without_torch(tmp_path, "upscale", str(source), str(target), "--device", "cpu", "--quiet")
        assert rc == 0, stderr
        # The job's verdict on bf16 is its own probe's, cached under this test's XDG_CACHE_HOME, and a
        # fresh probe can judge otherwise than the cache this process read (seen once in CI on a 2-core
        # AMD EPYC whose cached probe had measured bf16 1.69x faster): expect what the job's verdict picks.
        backend, precision = cpu_default_engine(bf16_speed.known_bf16_verdict())  # 8-bit pictures
        assert f"on {backend} cpu {precision}" in stderr.splitlines()[-1]
        assert torch_loaded == (run == "first")
        with av.open(str(target)) as container:
            outputs.append([frame.to_ndarray(format="gray") for frame in container.decode(video=0)])
    assert len(outputs[1]) == len(outputs[0]) > 0
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)
