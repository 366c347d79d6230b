"""The quick start: a CPU run whose graph an earlier run cached builds its runner without torch."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from vsr.backends import bf16_speed  # noqa: E402
from vsr.backends import cached_start  # noqa: E402
from vsr.backends.graph_card import MAX_CARD_BYTES, card_key  # noqa: E402
from vsr.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from vsr.backends.openvino import OpenVinoBackend, openvino_installed  # noqa: E402
from vsr.files import sha256_file  # noqa: E402
from vsr.runner_spec import RunnerSpec  # noqa: E402

from .conftest import REPO  # noqa: E402

# What auto runs on this machine's CPU when no precision is asked: OpenVINO bf16 where bf16 pays
# on the CPU (and openvino is installed), else ONNX Runtime fp32.
HOST_BF16 = bf16_speed.bf16_pays() and openvino_installed()
HOST_DEFAULT = ("openvino", "bf16") if HOST_BF16 else ("onnxruntime", "fp32")

# Builds the runner for a weights file, upscales one fixed frame and reports what it had to import.
BUILD_AND_RUN = r"""
import sys, numpy as np
from vsr.runner_spec import RunnerSpec
weights, out, device, precision = sys.argv[1:5]
runner = RunnerSpec(model="espcn", scale=2, weights=weights, device=device, precision=None if precision == "-" else precision).build()
frame = np.random.default_rng(0).random((1, 37, 53), dtype=np.float32)
np.save(out, runner.run(frame))
print("torch" in sys.modules, runner.name, runner.device, runner.precision)
"""


@pytest.fixture(autouse=True)
def no_bf16(monkeypatch):
    """In this process the CPU is taken to have no bf16 instructions, so that ``auto`` means ONNX
    Runtime fp32 on any machine; the OpenVINO tests say otherwise where the CPU really has them."""
    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: False)


@pytest.fixture()
def bf16_cpu(monkeypatch):
    if not HOST_BF16:
        pytest.skip("bf16 does not pay on this CPU (no bf16 instructions, or measured slower), or openvino is missing: auto would not pick OpenVINO bf16 here")
    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: True)


def _run(cache: os.PathLike, *args: str) -> list[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", BUILD_AND_RUN, *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A fresh cache, holding only the bf16 probe's verdict that HOST_DEFAULT was decided by: the
    runs in it then choose as this process did, not by a second timing (noisy on a busy machine)."""
    from vsr.backends.cache import default_cache_dir

    folder = tmp_path / "cache"
    probes = default_cache_dir() / "probes"
    if probes.is_dir():
        shutil.copytree(probes, folder / "vsr" / "probes")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def _card_path(cache, weights, backend=None):
    backend = backend or OnnxRuntimeBackend()
    name = card_key(sha256_file(weights), "espcn", 2, backend.opset, backend.runtime_tag(), backend.block_subpixel)
    return cache / "vsr" / "onnx" / name


@pytest.mark.parametrize("precision, expected", [("fp32", ("onnxruntime", "fp32")), ("-", HOST_DEFAULT)])
def test_second_run_starts_without_torch_and_computes_the_same(cache, espcn_weights, tmp_path, precision, expected):
    weights = espcn_weights[2]
    first = _run(cache, weights, tmp_path / "first.npy", "cpu", precision)
    assert first == ["True", expected[0], "cpu", expected[1]]  # exported: torch was needed
    backend = OpenVinoBackend() if expected[0] == "openvino" else OnnxRuntimeBackend()
    assert _card_path(cache, weights, backend).is_file()
    second = _run(cache, weights, tmp_path / "second.npy", "cpu", precision)
    assert second == ["False", expected[0], "cpu", expected[1]]
    np.testing.assert_array_equal(np.load(tmp_path / "first.npy"), np.load(tmp_path / "second.npy"))


def test_quick_runner_equals_the_ordinary_one(cache, espcn_weights):
    weights = espcn_weights[2]
    spec = RunnerSpec(model="espcn", scale=2, weights=weights, device="cpu")
    assert cached_start.cached_cpu_runner(spec) is None  # nothing cached yet
    ordinary = spec.build()
    quick = cached_start.cached_cpu_runner(spec)
    assert quick is not None and (quick.name, quick.device, quick.precision, quick.scale) == ("onnxruntime", "cpu", "fp32", 2)
    frames = np.random.default_rng(1).random((3, 41, 66), dtype=np.float32)
    np.testing.assert_array_equal(quick.run(frames), ordinary.run(frames))


def test_other_weights_find_no_card(cache, espcn_weights):
    RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu").build()
    assert cached_start.cached_cpu_runner(RunnerSpec(model="espcn", scale=3, weights=espcn_weights[3], device="cpu")) is None


@pytest.mark.parametrize("change", [
    {"backend": "torch"},
    {"backend": "openvino"},
    {"precision": "bf16"},
    {"device": "cuda"},
])
def test_anything_but_onnxruntime_fp32_on_cpu_takes_the_ordinary_path(cache, espcn_weights, change):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    spec.build()
    assert cached_start.cached_cpu_runner(spec) is not None
    assert cached_start.cached_cpu_runner(RunnerSpec(**{**spec.__dict__, **change})) is None


def test_a_possible_gpu_leaves_the_choice_to_torch(cache, espcn_weights, monkeypatch):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    spec.build()
    monkeypatch.setattr(cached_start, "may_have_gpu", lambda: True)
    assert cached_start.cached_cpu_runner(RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2])) is None
    assert cached_start.cached_cpu_runner(spec) is not None  # --device cpu needs no GPU check


@pytest.mark.parametrize("damage", ["not json", "oversize", "missing field", "wrong type", "path escape", "graph gone"])
def test_a_damaged_card_is_ignored(cache, espcn_weights, damage):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    spec.build()
    card = _card_path(cache, espcn_weights[2])
    fields = json.loads(card.read_text())
    if damage == "not json":
        card.write_text("{")
    elif damage == "oversize":
        card.write_text(json.dumps({**fields, "pad": "x" * MAX_CARD_BYTES}))
    elif damage == "missing field":
        card.write_text(json.dumps({k: v for k, v in fields.items() if k != "receptive_radius"}))
    elif damage == "wrong type":
        card.write_text(json.dumps({**fields, "scale": "2"}))
    elif damage == "path escape":
        card.write_text(json.dumps({**fields, "graph": "../../x.onnx"}))
    else:
        (card.parent / fields["graph"]).unlink()
    assert cached_start.cached_cpu_runner(spec) is None
    assert spec.build().run(np.zeros((1, 8, 8), np.float32)).shape == (1, 16, 16)  # the ordinary path still works


def test_auto_falls_back_to_torch_when_the_graph_fails_its_first_frames(cache, espcn_weights, monkeypatch):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    expected = spec.build().run(np.random.default_rng(2).random((1, 30, 40), dtype=np.float32))

    def broken(self, batch, out=None):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("vsr.backends.onnxruntime.OnnxRuntimeRunner.run", broken)
    warnings = []
    runner = cached_start.cached_cpu_runner(spec, warn=warnings.append)
    result = runner.run(np.random.default_rng(2).random((1, 30, 40), dtype=np.float32))
    assert runner.name == "torch" and len(warnings) == 1
    assert "onnxruntime on cpu (fp32) failed on its first frames (simulated failure); using torch on cpu (fp32)" in warnings[0]
    np.testing.assert_allclose(result, expected, atol=1e-5)


@pytest.mark.parametrize("bf16, input_bits, precision", [(False, 8, None), (True, 8, None), (True, 10, None), (True, 8, "bf16"), (True, 8, "fp32")])
def test_its_fallback_order_is_autos_on_a_cpu(monkeypatch, bf16, input_bits, precision):
    from vsr.backends import make_backend

    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: bf16)
    spec = RunnerSpec(model="espcn", scale=2, device="cpu", precision=precision, input_bits=input_bits)
    torch_last = ("torch", "bf16" if precision == "bf16" else "fp32")
    quick = [(b.name, b.precision) for b in cached_start._cpu_backends(spec)] + [torch_last]
    auto = [(b.name, b.precision) for b in make_backend("auto", device="cpu", precision=precision, input_bits=input_bits).candidates()]
    assert quick == auto
    assert (auto[0] == ("openvino", "bf16")) == (bf16 and input_bits == 8 and precision != "fp32" and openvino_installed())


def test_its_graph_runtimes_are_in_the_registrys_order():
    from vsr.backends.selection import BACKENDS

    names = [cls.name for cls in cached_start.GRAPH_RUNTIMES]
    assert names == [name for name in BACKENDS if name in names]


@pytest.mark.parametrize("name", ["openvino", "onnxruntime"])
@pytest.mark.parametrize("bf16, input_bits, precision", [(False, 8, None), (True, 8, None), (True, 10, None), (True, 8, "bf16"), (True, 8, "fp32")])
def test_a_named_backend_gets_what_the_ordinary_path_would_build(monkeypatch, name, bf16, input_bits, precision):
    from vsr.backends import make_backend
    from vsr.errors import ConfigError

    if name == "openvino" and not openvino_installed():
        pytest.skip("openvino is not installed")
    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: bf16)
    spec = RunnerSpec(model="espcn", scale=2, backend=name, device="cpu", precision=precision, input_bits=input_bits)
    quick = [(b.name, b.precision) for b in cached_start._cpu_backends(spec)]
    try:
        backend = make_backend(name, device="cpu", precision=precision, input_bits=input_bits)
        ordinary = [(backend.name, backend.precision)]
    except ConfigError:
        ordinary = []  # refused: the quick start leaves saying why to the ordinary path
    assert quick == ordinary


def test_openvino_quick_runner_equals_the_ordinary_one(cache, espcn_weights, bf16_cpu):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    ordinary = spec.build()
    quick = cached_start.cached_cpu_runner(spec)
    assert (ordinary.name, ordinary.precision) == ("openvino", "bf16")
    assert quick is not None and (quick.name, quick.device, quick.precision) == ("openvino", "cpu", "bf16")
    frames = np.random.default_rng(1).random((2, 41, 66), dtype=np.float32)
    np.testing.assert_array_equal(quick.run(frames), ordinary.run(frames))


def test_openvino_failing_its_first_frames_falls_back_to_onnxruntime(cache, espcn_weights, bf16_cpu, monkeypatch):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu")
    spec.build()
    RunnerSpec(**{**spec.__dict__, "precision": "fp32"}).build()  # ONNX Runtime's card too
    frame = np.random.default_rng(2).random((1, 30, 40), dtype=np.float32)
    expected = RunnerSpec(**{**spec.__dict__, "backend": "onnxruntime"}).build().run(frame)

    def broken(self, batch, out=None):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("vsr.backends.openvino.OpenVinoRunner.run", broken)
    warnings = []
    runner = cached_start.cached_cpu_runner(spec, warn=warnings.append)
    np.testing.assert_array_equal(runner.run(frame), expected)
    assert (runner.name, runner.precision) == ("onnxruntime", "fp32") and len(warnings) == 1
    assert "openvino on cpu (bf16) failed on its first frames (simulated failure); using onnxruntime on cpu (fp32)" in warnings[0]


def test_deep_pictures_start_onnxruntime_fp32_even_on_a_bf16_cpu(cache, espcn_weights, bf16_cpu):
    spec = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], device="cpu", input_bits=10)
    assert spec.build().precision == "fp32"
    quick = cached_start.cached_cpu_runner(spec)
    assert quick is not None and (quick.name, quick.precision) == ("onnxruntime", "fp32")
