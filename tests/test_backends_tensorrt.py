"""vsr/backends/tensorrt.py: engine output matches torch fp32; engines cached. Needs a GPU."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vsr.backends import TensorRTBackend, build_runner
from vsr.errors import ConfigError
from vsr.models import create_model

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None
needs_trt = pytest.mark.skipif(
    not (HAVE_TRT and torch.cuda.is_available()),
    reason="TensorRT backend needs an NVIDIA GPU and TensorRT 10 (pip install 'vsr[tensorrt]'); "
    f"here: CUDA {'present' if torch.cuda.is_available() else 'absent'}, tensorrt {'installed' if HAVE_TRT else 'not installed'}",
)


def reference(model, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.eval().float()(torch.from_numpy(batch)[:, None])[:, 0].numpy()


def test_importing_vsr_backends_does_not_import_tensorrt():
    import subprocess
    import sys

    code = "import sys, vsr.backends, vsr.api; print('tensorrt' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_cpu_is_refused_with_a_reason():
    with pytest.raises(ConfigError, match="NVIDIA GPUs only"):
        TensorRTBackend(device="cpu").check()


@needs_trt
@pytest.mark.parametrize("precision, atol", [("fp32", 1e-4), ("fp16", 2 / 255)])
def test_matches_torch_fp32_and_caches_engine(tmp_path, precision, atol):
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    frames = np.random.default_rng(0).random((3, 37, 53), dtype=np.float32)
    runner = build_runner(model, TensorRTBackend(precision=precision, cache_dir=str(tmp_path)))
    np.testing.assert_allclose(runner.run(frames), reference(model, frames), atol=atol, rtol=0)
    engines = list((tmp_path / "tensorrt").glob("*.engine"))
    assert len(engines) == 1
    again = build_runner(model, TensorRTBackend(precision=precision, cache_dir=str(tmp_path)))
    np.testing.assert_allclose(again.run(frames), reference(model, frames), atol=atol, rtol=0)
    assert list((tmp_path / "tensorrt").glob("*.engine")) == engines  # loaded, not rebuilt


# -- Without TensorRT: the decisions, against a stand-in ``tensorrt`` module --------------------
# TensorRT itself has never run on a machine of this project (no GPU; its wheels need one). These
# tests check what vsr decides and asks of it: which flags for which version, which graph, which
# buffer dtypes, which errors. The stand-in has exactly the members the named version documents
# (TensorRT 11 has no BuilderFlag.FP16: touching it raises AttributeError, as the real one does).

import enum
import types

from vsr.backends import tensorrt as trt_mod
from vsr.backends.base import OutOfMemory


def fake_trt(version: str, *, fp16_flag: bool, strongly_typed_member: bool = True, calls: list | None = None, fail_build: Exception | None = None, engine=None):
    calls = [] if calls is None else calls
    flags = {"TF32": 6} | ({"FP16": 0} if fp16_flag else {})
    BuilderFlag = enum.IntEnum("BuilderFlag", flags)
    NetworkFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0} | ({"STRONGLY_TYPED": 1} if strongly_typed_member else {}))
    DataType = enum.IntEnum("DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "BF16": 7})

    class Config:
        def set_memory_pool_limit(self, *a):
            pass

        def set_flag(self, flag):
            calls.append(("set_flag", flag.name))

        def clear_flag(self, flag):
            calls.append(("clear_flag", flag.name))

        def create_timing_cache(self, data):
            return object()

        def set_timing_cache(self, cache, ignore_mismatch):
            pass

        def get_timing_cache(self):
            return types.SimpleNamespace(serialize=lambda: b"timing")

        def add_optimization_profile(self, profile):
            pass

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("create_network", flags))
            return object()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return types.SimpleNamespace(set_shape=lambda *a: calls.append(("profile", a[1:])))

        def build_serialized_network(self, network, config):
            if fail_build is not None:
                raise fail_build
            return b"engine-bytes"

    class OnnxParser:
        num_errors = 0

        def __init__(self, network, logger):
            pass

        def parse(self, data):
            calls.append(("parse", data))
            return True

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return engine

    import importlib.machinery

    module = types.ModuleType("tensorrt")
    module.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)  # torch looks modules up by spec
    module.__dict__.update(
        __version__=version,
        BuilderFlag=BuilderFlag,
        NetworkDefinitionCreationFlag=NetworkFlag,
        DataType=DataType,
        MemoryPoolType=types.SimpleNamespace(WORKSPACE=0),
        Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, *a: None}),
        Builder=Builder,
        OnnxParser=OnnxParser,
        Runtime=Runtime,
    )
    return module


@pytest.mark.parametrize(
    "version, fp16_flag, precision, typed, graph16, flag16, no_tf32",
    [
        ("10.3.0", True, "fp16", False, False, True, False),  # before 10.12: weak typing + FP16 flag
        ("10.11.0", True, "fp32", False, False, False, True),
        ("10.12.0", True, "fp16", True, True, False, False),  # flag deprecated: fp16 graph, strongly typed
        ("11.1.0", False, "fp16", True, True, False, False),  # no FP16 flag at all
        ("11.1.0", False, "fp32", True, False, False, True),  # fp32 is IEEE fp32: TF32 cleared
    ],
)
def test_build_settings_per_version(version, fp16_flag, precision, typed, graph16, flag16, no_tf32):
    settings = trt_mod.build_settings(fake_trt(version, fp16_flag=fp16_flag), precision)
    assert (settings.strongly_typed, settings.fp16_graph, settings.fp16_flag, settings.clear_tf32) == (typed, graph16, flag16, no_tf32)


def test_configure_never_touches_fp16_flag_on_tensorrt_11():
    calls = []
    trt = fake_trt("11.0.0", fp16_flag=False, calls=calls)
    config = trt.Builder(None).create_builder_config()
    for precision in ("fp16", "fp32"):
        trt_mod.configure(trt, config, trt_mod.build_settings(trt, precision))  # AttributeError if FP16 were touched
    assert calls == [("clear_flag", "TF32")]
    calls.clear()
    old = fake_trt("10.4.0", fp16_flag=True, calls=calls)
    trt_mod.configure(old, config, trt_mod.build_settings(old, "fp16"))
    assert calls == [("set_flag", "FP16")]


def test_network_flags():
    typed = trt_mod.BuildSettings(True, True, False, False)
    assert trt_mod.network_flags(fake_trt("11.0.0", fp16_flag=False), typed) == 1 << 1
    assert trt_mod.network_flags(fake_trt("11.5.0", fp16_flag=False, strongly_typed_member=False), typed) == 0
    assert trt_mod.network_flags(fake_trt("10.3.0", fp16_flag=True), trt_mod.BuildSettings(False, False, True, False)) == 0


def test_unsupported_major_refused(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("12.0.0", fp16_flag=False))
    with pytest.raises(ConfigError, match="handles TensorRT 10 and 11, found 12.0.0"):
        trt_mod.import_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.0.1", fp16_flag=True))
    assert trt_mod.import_tensorrt().__version__ == "10.0.1"


def test_setup_cfg_admits_only_handled_majors():
    import configparser
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    spec = cfg["options.extras_require"]["tensorrt"].strip()
    assert spec == "tensorrt>=10,<12", spec


def _runner(monkeypatch, tmp_path, trt, precision="fp16"):
    import sys

    torch.manual_seed(0)
    model = create_model("espcn", 2)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(trt_mod.TensorRTRunner, "_gpu", lambda self: {"gpu": "Fake GPU", "sm": "9.0"})
    monkeypatch.setattr(trt_mod, "CudaPipeline", lambda *a, **k: types.SimpleNamespace(release=lambda: None, max_chunk=None, frames_per_chunk=lambda h, w: 1))
    return trt_mod.TensorRTRunner(model, trt_mod.TensorRTBackend(precision=precision, cache_dir=str(tmp_path)))


def test_tensorrt_11_fp16_builds_strongly_typed_from_fp16_graph(monkeypatch, tmp_path):
    import onnx
    from onnx import TensorProto

    calls = []
    runner = _runner(monkeypatch, tmp_path, fake_trt("11.1.0", fp16_flag=False, calls=calls))
    path = runner.engine_path(1, 32, 48)
    assert path.read_bytes() == b"engine-bytes" and "fp16" in path.name
    assert ("create_network", 1 << 1) in calls
    assert not any(c[0] == "set_flag" for c in calls)
    graph = onnx.load_from_string(next(c[1] for c in calls if c[0] == "parse")).graph
    assert {i.data_type for i in graph.initializer if i.dims} == {TensorProto.FLOAT16}
    assert graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT  # I/O stays fp32


def test_engine_build_error_is_one_config_error_line(monkeypatch, tmp_path):
    runner = _runner(monkeypatch, tmp_path, fake_trt("11.1.0", fp16_flag=False, fail_build=TypeError("bad arg\nsecond line")))
    with pytest.raises(ConfigError, match=r"^TensorRT could not build an engine for 48x32 frames: bad arg$"):
        runner.engine_path(1, 32, 48)
    # The lazy build inside run() goes through the same door.
    with pytest.raises(ConfigError, match="could not build an engine"):
        runner.ensure_engine(1, 32, 48)


def test_export_tensorrt_engine_error_is_one_line(monkeypatch, tmp_path, capsys):
    import sys

    from vsr.cli.main import main

    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("11.1.0", fp16_flag=False, fail_build=AttributeError("type object 'BuilderFlag' has no attribute 'FP16'")))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(trt_mod.TensorRTRunner, "_gpu", lambda self: {"gpu": "Fake GPU", "sm": "9.0"})
    monkeypatch.setattr(trt_mod, "CudaPipeline", lambda *a, **k: types.SimpleNamespace(release=lambda: None, max_chunk=None))
    trt_mod.CudaPipeline.frames_per_chunk = staticmethod(lambda h, w: 1)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code = main(["export", "--format", "tensorrt", "--size", "64x48", "--out", str(tmp_path / "e.engine")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("vsr: building")]
    assert code == 1 and "Traceback" not in err
    assert lines == ["vsr: error: TensorRT could not build an engine for 64x48 frames: type object 'BuilderFlag' has no attribute 'FP16'"]
    assert not (tmp_path / "e.engine").exists()


class _FakeEngine:
    def __init__(self, trt, context=True, dtype="HALF"):
        self.trt, self.has_context, self.dtype = trt, context, dtype
        self.contexts = []

    def create_execution_context(self):
        if not self.has_context:
            return None
        context = _FakeContext()
        self.contexts.append(context)
        return context

    def get_tensor_profile_shape(self, name, index):
        return (1, 1, 1, 1), (1, 1, 16, 16), (2, 1, 16, 16)

    def get_tensor_dtype(self, name):
        return getattr(self.trt.DataType, self.dtype)


class _FakeContext:
    accept_shape = True

    def set_input_shape(self, name, shape):
        self.shape = shape
        return self.accept_shape

    def set_tensor_address(self, name, address):
        pass

    def execute_async_v3(self, stream):
        return True


def test_engine_io_dtypes_read_from_engine_and_buffers_sized_from_them():
    trt = fake_trt("11.1.0", fp16_flag=False)
    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda data: _FakeEngine(trt, dtype="HALF"))
    engine = trt_mod._Engine(trt, b"x", None)
    assert engine.input_dtype == engine.output_dtype == torch.float16
    x = torch.rand(2, 1, 5, 7)
    x16, y = trt_mod.io_buffers(engine, x, 2)
    assert x16.dtype == torch.float16 and torch.equal(x16, x.half())
    assert y.dtype == torch.float16 and y.shape == (2, 1, 10, 14) and y.nbytes == 2 * 10 * 14 * 2
    out = trt_mod.run_engine(engine, x, 2, stream=0)
    assert out.dtype == torch.float32 and out.shape == (2, 1, 10, 14)

    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda data: _FakeEngine(trt, dtype="INT8"))
    with pytest.raises(ConfigError, match="INT8"):
        trt_mod._Engine(trt, b"x", None)


def test_no_execution_context_is_out_of_memory_for_the_tiler():
    trt = fake_trt("10.8.0", fp16_flag=True)
    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda data: _FakeEngine(trt, context=False))
    with pytest.raises(OutOfMemory, match="execution context"):
        trt_mod._Engine(trt, b"x", None)


def test_shape_outside_profile_is_a_clear_error():
    trt = fake_trt("10.8.0", fp16_flag=True)
    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda data: _FakeEngine(trt, dtype="FLOAT"))
    engine = trt_mod._Engine(trt, b"x", None)
    engine.context.accept_shape = False
    with pytest.raises(ConfigError, match=r"refused input shape \(1, 1, 20, 20\): outside the engine's profile \(largest \(2, 1, 16, 16\)\)"):
        trt_mod.run_engine(engine, torch.rand(1, 1, 20, 20), 2, stream=0)


def test_cuda_n_is_made_current(monkeypatch):
    seen = []
    monkeypatch.setattr(torch.cuda, "device", lambda index: seen.append(index) or contextlib_null())
    trt_mod.on_device(torch.device("cuda:1"))
    assert seen == [1]
    assert trt_mod.on_device(torch.device("cuda")) is not None and seen == [1]


def contextlib_null():
    import contextlib

    return contextlib.nullcontext()


def test_fp16_graph_runs_and_stays_close_to_fp32():
    """The fp16 graph TensorRT >= 10.12 parses is valid ONNX and computes the same picture (here
    run by ONNX Runtime's CPU provider, the only runtime on this machine)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    import onnx

    from vsr.backends.onnx_export import fp16_graph, onnx_bytes
    from vsr.models import load_model

    model = load_model("espcn", 2)
    data = fp16_graph(onnx_bytes(model))
    onnx.checker.check_model(onnx.load_from_string(data))
    frames = np.random.default_rng(0).random((2, 21, 27), dtype=np.float32)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": frames[:, None]})[0][:, 0]
    want = reference(model, frames)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < 2e-3  # fp16 rounding, not a different picture
    assert np.abs(got - want).max() > 0  # and it really ran in fp16
