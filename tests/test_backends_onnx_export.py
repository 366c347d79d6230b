"""vsr/backends/onnx_export.py and ``vsr export``: a graph with dynamic batch, height and width."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import assert_cli_error

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'vsr[onnx]')")


def test_cli_exports_onnx_that_runs_at_any_size(cli, espcn_weights, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    out = tmp_path / "espcn_x2.onnx"
    code, stderr = cli("export", "--format", "onnx", "--model", "espcn", "--scale", 2, "--weights", espcn_weights[2], "--out", out)
    assert code == 0, stderr
    graph = onnx.load(str(out))
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["n", 1, "h", "w"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    from vsr.models import load_model

    model = load_model("espcn", 2, espcn_weights[2])
    for shape in [(1, 1, 7, 9), (2, 1, 31, 20)]:
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        with torch.inference_mode():
            expected = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, atol=1e-4, rtol=0)


def test_cli_tensorrt_without_gpu_is_one_line(cli, espcn_weights, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the error path cannot be reached")
    assert_cli_error(cli("export", "--format", "tensorrt", "--weights", espcn_weights[2], "--out", tmp_path / "e.engine"), "cuda")


def test_cli_bad_size_is_one_line(cli, espcn_weights):
    assert_cli_error(cli("export", "--format", "tensorrt", "--weights", espcn_weights[2], "--size", "big", "--device", "cuda"), "--size")
