"""The quick start: a CPU run whose graph an earlier run cached builds its runner without torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from vsr.backends import cached_start  # noqa: E402
from vsr.backends.graph_card import MAX_CARD_BYTES, card_key  # noqa: E402
from vsr.backends.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from vsr.files import sha256_file  # noqa: E402
from vsr.runner_spec import RunnerSpec  # noqa: E402

from .conftest import REPO  # noqa: E402

# Builds the runner for a weights file, upscales one fixed frame and reports what it had to import.
BUILD_AND_RUN = r"""
import sys, numpy as np
from vsr.runner_spec import RunnerSpec
runner = RunnerSpec(model="espcn", scale=2, weights=sys.argv[1], device=sys.argv[3] if len(sys.argv) > 3 else None).build()
frame = np.random.default_rng(0).random((1, 37, 53), dtype=np.float32)
np.save(sys.argv[2], runner.run(frame))
print("torch" in sys.modules, runner.name, runner.device, runner.precision)
"""


def _run(cache: os.PathLike, *args: str) -> list[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", BUILD_AND_RUN, *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def _card_path(cache, weights):
    backend = OnnxRuntimeBackend()
    name = card_key(sha256_file(weights), "espcn", 2, backend.opset, backend.runtime_tag(), backend.block_subpixel)
    return cache / "vsr" / "onnx" / name


def test_second_run_starts_without_torch_and_computes_the_same(cache, espcn_weights, tmp_path):
    weights = espcn_weights[2]
    first = _run(cache, weights, tmp_path / "first.npy", "cpu")
    assert first == ["True", "onnxruntime", "cpu", "fp32"]  # exported: torch was needed
    assert _card_path(cache, weights).is_file()
    second = _run(cache, weights, tmp_path / "second.npy", "cpu")
    assert second == ["False", "onnxruntime", "cpu", "fp32"]
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


def test_its_fallback_order_is_autos_on_a_cpu():
    from vsr.backends import AutoBackend, TorchBackend

    assert [type(c) for c in AutoBackend(device="cpu").candidates()] == [OnnxRuntimeBackend, TorchBackend]
