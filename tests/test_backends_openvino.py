"""vsr/backends/openvino.py: OpenVINO on the CPU, and when ``auto`` chooses it (bf16, 8-bit pictures)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("openvino", reason="openvino not installed (it comes with vsr on x86)")
pytest.importorskip("onnxruntime", reason="onnxruntime not installed")

from vsr.backends import bf16_speed  # noqa: E402
from vsr.backends import AutoBackend, OnnxRuntimeBackend, OpenVinoBackend, TorchBackend, make_backend  # noqa: E402
from vsr.backends.engine_hint import faster_engine_hint  # noqa: E402
from vsr.errors import ConfigError  # noqa: E402
from vsr.runner_spec import RunnerSpec  # noqa: E402

BF16_CPU = bf16_speed.cpu_has_bf16()
BF16_PAYS = bf16_speed.bf16_pays()
NO_GPU = not torch.cuda.is_available()


@pytest.fixture()
def bf16_cpu(monkeypatch):
    """Pretend this CPU has bf16 instructions that pay (True) or lacks them (False), for choosing only."""

    def pretend(has: bool) -> None:
        monkeypatch.setattr(bf16_speed, "cpu_has_bf16", lambda: has)
        monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: has)

    return pretend


def _frames(shape=(2, 37, 53), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_fp32_computes_what_onnxruntime_computes_and_writes_in_place(espcn, tmp_path):
    openvino = OpenVinoBackend(precision="fp32", cache_dir=str(tmp_path)).build(espcn)
    reference = OnnxRuntimeBackend(side_by_side=False, cache_dir=str(tmp_path)).build(espcn)
    for shape in ((2, 37, 53), (1, 20, 31)):  # shapes change from call to call
        frames = _frames(shape)
        out = np.full((shape[0], 2 * shape[1], 2 * shape[2]), np.nan, np.float32)
        assert openvino.run(frames, out=out) is out
        np.testing.assert_allclose(out, reference.run(frames), atol=1e-5)
    assert (openvino.name, openvino.device, openvino.precision) == ("openvino", "cpu", "fp32")


@pytest.mark.skipif(not BF16_CPU, reason="this CPU has no bf16 instructions (AVX512-BF16 or AMX), so OpenVINO would not run bf16")
def test_bf16_runs_in_bf16_and_moves_8_bit_codes_by_a_few_levels(tmp_path):
    from vsr.models import load_model

    espcn = load_model("espcn", 2, None)  # the shipped weights: an untrained model's output is flat
    runner = OpenVinoBackend(precision="bf16", cache_dir=str(tmp_path)).build(espcn)
    assert runner.precision == "bf16"  # what OpenVINO compiled, not only what was asked
    y, x = np.mgrid[0:64, 0:64] / 64.0
    picture = 0.5 + 0.3 * np.sin(7 * x + 3 * y) * np.cos(5 * y) + 0.15 * (x > 0.5)  # smooth, with an edge
    frames = (np.round(picture * 255) / 255).astype(np.float32)[None]  # an 8-bit picture
    exact = TorchBackend(precision="fp32").build(espcn).run(frames)
    codes = np.abs(np.round(np.clip(runner.run(frames), 0, 1) * 255) - np.round(np.clip(exact, 0, 1) * 255))
    assert 0 < codes.max() <= 3  # not fp32 in disguise, and no more than bf16's rounding
    assert (codes > 0).mean() < 0.35


def test_bf16_is_refused_where_the_cpu_would_emulate_it(bf16_cpu):
    bf16_cpu(False)
    with pytest.raises(ConfigError, match="AVX512-BF16 or AMX"):
        OpenVinoBackend(precision="bf16").check()
    assert OpenVinoBackend.for_request().precision == "fp32"
    with pytest.raises(ConfigError, match="runs on the CPU"):
        OpenVinoBackend(device="cuda").check()


@pytest.mark.skipif(not NO_GPU, reason="checks the CPU order; this machine has a GPU")
def test_auto_on_a_bf16_cpu_tries_openvino_bf16_then_the_fp32_runtimes(bf16_cpu):
    bf16_cpu(True)
    order = [(b.name, b.precision) for b in make_backend("auto").candidates()]
    assert order == [("openvino", "bf16"), ("onnxruntime", "fp32"), ("torch", "fp32")]
    # Asked for: fp32 keeps to the fp32 runtimes; bf16 to the bf16 ones.
    assert [b.name for b in make_backend("auto", precision="fp32").candidates()] == ["onnxruntime", "torch"]
    assert [(b.name, b.precision) for b in make_backend("auto", precision="bf16").candidates()] == [("openvino", "bf16"), ("torch", "bf16")]


@pytest.mark.skipif(not NO_GPU, reason="checks the CPU order; this machine has a GPU")
def test_without_bf16_instructions_auto_is_unchanged(bf16_cpu):
    bf16_cpu(False)
    assert [b.name for b in make_backend("auto").candidates()] == ["onnxruntime", "torch"]


@pytest.mark.parametrize("bits", [10, 16, None])
def test_pictures_deeper_than_8_bits_get_fp32_by_default(bf16_cpu, bits):
    bf16_cpu(True)
    auto = make_backend("auto", input_bits=bits)
    assert isinstance(auto, AutoBackend) and not auto.bf16_default
    assert all(b.precision == "fp32" for b in auto.candidates() if b.device == "cpu")
    assert make_backend("openvino", input_bits=bits).precision == "fp32"
    assert make_backend("openvino", input_bits=8).precision == "bf16"
    assert make_backend("openvino", precision="bf16", input_bits=bits).precision == "bf16"  # asked: given


@pytest.mark.skipif(not (BF16_PAYS and NO_GPU), reason="needs a CPU where bf16 pays and no GPU: the default it checks is that CPU's")
def test_a_runner_spec_for_8_bit_pictures_runs_bf16_and_for_10_bit_fp32(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    eight = RunnerSpec(model="espcn", scale=2).build()
    ten = RunnerSpec(model="espcn", scale=2, input_bits=10).build()
    assert (eight.name, eight.precision) == ("openvino", "bf16")
    assert (ten.name, ten.precision) == ("onnxruntime", "fp32")


def test_the_hint_names_openvino_where_bf16_was_allowed_but_fp32_ran(bf16_cpu, monkeypatch, tmp_path):
    class Ran:
        name, device, precision = "onnxruntime", "cpu", "fp32"

    bf16_cpu(True)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    nowhere = str(tmp_path / "no-driver")
    hint = faster_engine_hint(Ran(), driver_file=nowhere, bf16_allowed=True)
    assert hint and "pip install openvino" in hint and "bf16" in hint
    assert faster_engine_hint(Ran(), driver_file=nowhere, bf16_allowed=False) is None  # fp32 asked, or deep pictures
    bf16_cpu(False)
    assert faster_engine_hint(Ran(), driver_file=nowhere, bf16_allowed=True) is None


def test_check_job_says_how_deep_the_input_is(tmp_path):
    from tests.video_clips import write_clip
    from vsr.api import check_job

    eight = write_clip(tmp_path / "8.mkv", frames=2, codec="ffv1")
    ten = write_clip(tmp_path / "10.mkv", frames=2, codec="ffv1", pix_fmt="yuv420p10le")
    assert check_job(eight, tmp_path / "o8.mkv") == 8
    assert check_job(ten, tmp_path / "o10.mkv") == 10
    folder = tmp_path / "pictures"
    folder.mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(folder / "a.png")
    assert check_job(folder, tmp_path / "out") == 8
    Image.fromarray(np.zeros((6, 8), np.uint16) + 300).save(folder / "b.png")  # 16-bit grey
    assert check_job(folder, tmp_path / "out") == 16  # the deepest picture decides
    assert check_job(folder / "b.png", tmp_path / "b_x2.png") == 16


def test_a_10_bit_video_runs_fp32_and_an_8_bit_one_the_cpus_default(tmp_path):
    from tests.conftest import cpu_default_engine, run_vsr
    from tests.video_clips import write_clip

    for bits, pix_fmt in ((8, "yuv420p"), (10, "yuv420p10le")):
        clip = write_clip(tmp_path / f"{bits}.mkv", frames=2, codec="ffv1", pix_fmt=pix_fmt)
        result = run_vsr("upscale", clip, tmp_path / f"{bits}_x2.mkv", "--codec", "ffv1", "--quiet")
        assert result.returncode == 0, result.stderr.decode()
        line = result.stderr.decode().splitlines()[-1]
        backend, precision = cpu_default_engine() if bits == 8 else ("onnxruntime", "fp32")
        assert f"on {backend} cpu {precision}" in line, line
