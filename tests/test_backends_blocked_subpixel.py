"""The blocked sub-pixel rewrite (ESPCN x2's last layer for ORT's 8-channel blocks) changes speed, not output."""
import numpy as np
import pytest
import torch

from vsr.backends.blocked_subpixel import can_block
from vsr.models import create_model

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from vsr.backends import OnnxRuntimeBackend  # noqa: E402
from vsr.backends.onnx_export import INPUT_NAME, cached_onnx, onnx_bytes  # noqa: E402


def _espcn(scale=2, **config):
    torch.manual_seed(scale)
    model = create_model("espcn", scale, **config).eval()
    with torch.no_grad():  # trained-like weights: no zero biases, larger than the init
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _last_conv(graph_bytes: bytes):
    graph = onnx.load_from_string(graph_bytes)
    conv = [n for n in graph.graph.node if n.op_type == "Conv"][-1]
    attrs = {a.name: list(a.ints) for a in conv.attribute}
    weight = next(t for t in graph.graph.initializer if t.name == conv.input[1])
    return attrs, list(weight.dims)


def test_only_espcn_x2_is_blocked():
    assert can_block(_espcn(2)) and can_block(_espcn(2, border="replicate"))
    assert not can_block(_espcn(3)) and not can_block(_espcn(4))
    assert not can_block(create_model("msrn", 2, blocks=1, features=8))


@pytest.mark.parametrize("activation, border", [("tanh", "zeros"), ("relu", "zeros"), ("tanh", "replicate")])
@pytest.mark.parametrize("height, width", [(1, 1), (2, 2), (5, 7), (6, 8), (31, 18), (18, 31)])
def test_blocked_graph_equals_the_model(activation, border, height, width):
    model = _espcn(2, activation=activation, border=border)
    session = ort.InferenceSession(onnx_bytes(model, blocked=True), providers=["CPUExecutionProvider"])
    frames = np.random.default_rng(height * 100 + width).random((2, 1, height, width), dtype=np.float32)
    got = session.run(None, {INPUT_NAME: frames})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(frames)).numpy()
    assert got.shape == (2, 1, 2 * height, 2 * width)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_blocked_graph_has_the_16_channel_stride_2_conv():
    attrs, dims = _last_conv(onnx_bytes(_espcn(2), blocked=True))
    assert dims == [16, 32, 4, 4]
    assert attrs["strides"] == [2, 2] and attrs["pads"] == [1, 1, 2, 2]
    attrs, dims = _last_conv(onnx_bytes(_espcn(2)))
    assert dims == [4, 32, 3, 3] and attrs["strides"] == [1, 1]
    attrs, dims = _last_conv(onnx_bytes(_espcn(2, border="replicate"), blocked=True))
    assert dims == [16, 32, 4, 4] and attrs["pads"] == [0, 0, 1, 1]


def test_cpu_runner_uses_the_blocked_graph_and_can_be_told_not_to(tmp_path):
    model = _espcn(2)
    blocked = OnnxRuntimeBackend(cache_dir=str(tmp_path)).build(model)
    plain = OnnxRuntimeBackend(cache_dir=str(tmp_path), block_subpixel=False).build(model)
    assert blocked.onnx_path != plain.onnx_path
    assert _last_conv(blocked.onnx_path.read_bytes())[1] == [16, 32, 4, 4]
    assert _last_conv(plain.onnx_path.read_bytes())[1] == [4, 32, 3, 3]
    frames = np.random.default_rng(1).random((1, 37, 29), dtype=np.float32)
    np.testing.assert_allclose(blocked.run(frames), plain.run(frames), atol=1e-5, rtol=0)


def test_blocked_and_plain_graphs_are_cached_apart(tmp_path):
    model = _espcn(2)
    plain, _ = cached_onnx(model, folder=tmp_path)
    blocked, hit = cached_onnx(model, folder=tmp_path, blocked=True)
    assert plain != blocked and not hit
    assert cached_onnx(model, folder=tmp_path, blocked=True) == (blocked, True)
