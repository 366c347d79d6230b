"""vsr/backends/onnxruntime.py: same output as torch fp32, exported graph cached on disk."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'vsr[onnx]')")

from vsr.backends import OnnxRuntimeBackend, build_runner  # noqa: E402
from vsr.errors import ConfigError  # noqa: E402
from vsr.models import create_model  # noqa: E402


def reference(model, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.eval().float()(torch.from_numpy(batch)[:, None])[:, 0].numpy()


@pytest.mark.parametrize("name, scale, config", [("espcn", 2, {}), ("espcn", 3, {}), ("espcn", 2, {"border": "replicate"}), ("espcn", 4, {"border": "replicate"}), ("msrn", 4, {"blocks": 1, "features": 8})])
def test_matches_torch_fp32(tmp_path, name, scale, config):
    torch.manual_seed(scale)
    model = create_model(name, scale, **config)
    frames = np.random.default_rng(scale).random((2, 29, 45), dtype=np.float32)
    runner = build_runner(model, OnnxRuntimeBackend(threads=2, cache_dir=tmp_path))
    out = runner.run(frames)
    assert out.shape == (2, scale * 29, scale * 45)
    np.testing.assert_allclose(out, reference(model, frames), atol=1e-4, rtol=0)
    # Another size through the same session: the graph's height and width are dynamic.
    other = frames[:1, :17, :31].copy()
    np.testing.assert_allclose(runner.run(other), reference(model, other), atol=1e-4, rtol=0)


def test_second_build_hits_the_cache(tmp_path):
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    first = OnnxRuntimeBackend(cache_dir=tmp_path).build(model)
    second = OnnxRuntimeBackend(cache_dir=tmp_path).build(model)
    assert not first.cache_hit and second.cache_hit
    assert first.onnx_path == second.onnx_path and first.onnx_path.parent == tmp_path / "onnx"


def test_other_weights_get_another_cache_entry(tmp_path):
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    first = OnnxRuntimeBackend(cache_dir=tmp_path).build(model)
    with torch.no_grad():
        model.sub_pixel.bias += 0.5
    second = OnnxRuntimeBackend(cache_dir=tmp_path).build(model)
    assert not second.cache_hit and second.onnx_path != first.onnx_path
    frames = np.random.default_rng(0).random((1, 9, 11), dtype=np.float32)
    np.testing.assert_allclose(second.run(frames), reference(model, frames), atol=1e-4, rtol=0)


def test_cpu_is_fp32_only():
    with pytest.raises(ConfigError, match="fp32 on CPU"):
        OnnxRuntimeBackend(precision="fp16").check()


class _FailingSession:
    """Stands in for the runner's session and fails every call as ORT fails."""

    def __init__(self, message: str):
        self.message = message

    def run_with_iobinding(self, binding):
        raise RuntimeError(self.message)


def test_an_allocation_failure_is_out_of_memory_for_the_tiler_and_other_errors_pass_through(tmp_path):
    from vsr.backends.base import OutOfMemory

    torch.manual_seed(0)
    model = create_model("espcn", 2)
    runner = OnnxRuntimeBackend(threads=1, cache_dir=tmp_path).build(model)
    frames = np.random.default_rng(0).random((1, 9, 11), dtype=np.float32)
    session = runner.session
    runner.session = _FailingSession("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 4096\nmore")
    with pytest.raises(OutOfMemory, match=r"Failed to allocate memory for requested buffer of size 4096$"):
        runner.run(frames)
    runner.session = _FailingSession("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : bad input")
    with pytest.raises(RuntimeError, match="INVALID_ARGUMENT") as raised:
        runner.run(frames)
    assert not isinstance(raised.value, OutOfMemory)
    # The failed calls left no binding behind: the next call runs and is right.
    runner.session = session
    np.testing.assert_allclose(runner.run(frames), reference(model, frames), atol=1e-4, rtol=0)
