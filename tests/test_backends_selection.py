"""vsr/backends/selection.py: auto choice, fallback with one warning line, clear errors."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vsr.backends import bf16_speed
from vsr.backends import BACKEND_NAMES, OnnxRuntimeBackend, TorchBackend, build_runner, make_backend
from vsr.errors import ConfigError

HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def no_bf16(monkeypatch):
    """The CPU is taken to have no bf16 instructions, so that ``auto`` on it means ONNX Runtime
    then torch on any machine (OpenVINO's place in the order: tests/test_backends_openvino.py)."""
    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: False)


def test_names_cover_every_backend():
    assert set(BACKEND_NAMES) == {"auto", "torch", "openvino", "onnxruntime", "tensorrt"}


@pytest.mark.skipif(CUDA, reason="checks the CPU order; this machine has a GPU")
def test_auto_on_cpu_prefers_onnxruntime_then_torch():
    names = [b.name for b in make_backend("auto").candidates()]
    assert names == (["onnxruntime", "torch"] if HAVE_ORT else ["torch"])


@pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine: the GPU part of the order cannot be checked")
def test_auto_on_cuda_prefers_gpu_backends_in_fp16():
    candidates = make_backend("auto").candidates()
    gpu = [b for b in candidates if b.device.startswith("cuda")]
    assert gpu and gpu[-1].name == "torch" and all(b.precision == "fp16" for b in gpu)
    assert candidates[-1] == TorchBackend(device="cpu")


def test_failing_backend_falls_back_with_one_warning_line(espcn, monkeypatch, capsys, tmp_path):
    def broken(self, model):
        raise RuntimeError("simulated: the session could not be created\nsecond line of detail")

    monkeypatch.setattr(OnnxRuntimeBackend, "build", broken)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    runner = build_runner(espcn, make_backend("auto", cache_dir=str(tmp_path)))
    assert runner.name == "torch" and runner.device == "cpu"
    frames = np.random.default_rng(0).random((1, 9, 13), dtype=np.float32)
    assert runner.run(frames).shape == (1, 18, 26)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    if HAVE_ORT:
        assert len(lines) == 1, lines
        assert "onnxruntime" in lines[0] and "simulated" in lines[0] and "using torch on cpu" in lines[0]
    else:
        assert lines == []


def test_failure_on_the_first_frames_falls_back_and_redoes_them(espcn, monkeypatch, capsys, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from vsr.backends.onnxruntime import OnnxRuntimeRunner

    def broken(self, batch, out=None):
        raise RuntimeError("simulated: engine failed to load")

    monkeypatch.setattr(OnnxRuntimeRunner, "run", broken)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    runner = build_runner(espcn, make_backend("auto", cache_dir=str(tmp_path)))
    assert runner.name == "onnxruntime"
    frames = np.random.default_rng(1).random((2, 11, 13), dtype=np.float32)
    out = runner.run(frames)
    assert runner.name == "torch"
    with torch.inference_mode():
        expected = espcn(torch.from_numpy(frames)[:, None])[:, 0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "first frames" in lines[0] and "using torch on cpu" in lines[0], lines


def test_forced_backend_is_not_replaced(espcn, monkeypatch):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")

    def broken(self, model):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(OnnxRuntimeBackend, "build", broken)
    with pytest.raises(ConfigError, match="onnxruntime backend could not start.*simulated"):
        build_runner(espcn, make_backend("onnxruntime", device="cpu"))


def test_all_failing_is_a_clear_error(espcn, monkeypatch):
    def broken(self, model):
        raise RuntimeError("simulated")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(OnnxRuntimeBackend, "build", broken)
    monkeypatch.setattr(TorchBackend, "build", broken)
    with pytest.raises(ConfigError, match="no backend could start"):
        build_runner(espcn, make_backend("auto"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "cudnn"}, "unknown backend"),
        ({"name": "tensorrt", "device": "cpu"}, "NVIDIA GPUs only"),
        ({"name": "torch", "device": "cpu", "precision": "fp16"}, "fp16 on CPU"),
        ({"name": "auto", "device": "cpu", "precision": "fp16"}, "fp16 needs a CUDA GPU"),
        ({"name": "auto", "precision": "fp8"}, "precision must be one of"),
        ({"name": "auto", "device": "tpu"}, "device must be"),
    ],
)
def test_impossible_choices_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_backend(**kwargs)


@pytest.mark.skipif(CUDA, reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        make_backend("auto", precision="fp16")
    for name in ("auto", "torch", "tensorrt"):
        with pytest.raises(ConfigError, match="(?i)cuda"):
            make_backend(name, device="cuda")


def test_auto_runner_matches_torch_reference(espcn, tmp_path):
    frames = np.random.default_rng(7).random((2, 33, 47), dtype=np.float32)
    with torch.inference_mode():
        expected = espcn(torch.from_numpy(frames)[:, None])[:, 0].numpy()
    runner = build_runner(espcn, make_backend("auto", cache_dir=str(tmp_path)))
    atol = 1e-4 if runner.precision == "fp32" else 2 / 255
    np.testing.assert_allclose(runner.run(frames), expected, atol=atol, rtol=0)


def test_selection_and_scheduling_ask_the_registered_classes(monkeypatch):
    """make_backend, auto's order and a cluster task's GPU request come from the backend classes
    in BACKENDS, not from rules repeated beside them: a class registered there is used by all three."""
    from dataclasses import dataclass

    from vsr.backends import BACKENDS, AutoBackend, backend_class
    from vsr.cluster.settings import ClusterSettings

    @dataclass(frozen=True)
    class Fake:
        device: str = "cpu"
        precision: str = "fp32"
        name = "fake"

        @classmethod
        def for_request(cls, device=None, precision=None, threads=None, cache_dir=None):
            return cls(device or "cpu", precision or "fp32")

        @classmethod
        def auto_candidate(cls, device, precision, threads=None, cache_dir=None):
            return cls(device, precision) if device == "cpu" else None

        @staticmethod
        def uses_gpu(device):
            return False

        def check(self):
            pass

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(BACKENDS, "fake", Fake)
    monkeypatch.delitem(BACKENDS, "torch")
    monkeypatch.setitem(BACKENDS, "torch", TorchBackend)  # back at the end: after the fake
    assert backend_class("fake") is Fake and backend_class("auto") is AutoBackend
    assert make_backend("fake") == Fake("cpu", "fp32")
    assert [b.name for b in make_backend("auto").candidates()][-2:] == ["fake", "torch"]
    assert ClusterSettings(backend="fake").wants_gpu() is False
    assert ClusterSettings(backend="torch").wants_gpu() is None
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        backend_class("nope")


def test_named_backends_take_their_class_defaults(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert make_backend("torch", threads=2) == TorchBackend(device="cpu", precision="fp32", threads=2)
    from vsr.backends import TensorRTBackend

    assert TensorRTBackend.for_request() == TensorRTBackend(device="cuda", precision="fp16")
    assert TensorRTBackend.for_request("cpu").precision == "fp32"  # refused by check(), as before
    if HAVE_ORT:
        assert make_backend("onnxruntime", threads=3) == OnnxRuntimeBackend(device="cpu", precision="fp32", threads=3)
