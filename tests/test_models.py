import pytest
import torch

from vsr.errors import ConfigError
from vsr.models import create_model, list_models


def conv_params(cin, cout, k):
    return cin * cout * k * k + cout


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn_shape_and_parameter_count(scale):
    model = create_model("espcn", scale)
    expected = conv_params(1, 64, 5) + conv_params(64, 32, 3) + conv_params(32, scale * scale, 3)
    assert sum(p.numel() for p in model.parameters()) == expected
    out = model(torch.rand(2, 1, 7, 5))
    assert out.shape == (2, 1, 7 * scale, 5 * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn_replicate_border_is_the_zero_padded_model_on_an_edge_extended_frame(scale):
    torch.manual_seed(scale)
    zeros = create_model("espcn", scale).eval()
    replicate = create_model("espcn", scale, border="replicate").eval()
    replicate.load_state_dict(zeros.state_dict())  # same parameters, only the border differs
    frame = torch.rand(2, 1, 11, 6)
    with torch.no_grad():
        got = replicate(frame)
        m = 4 * scale  # the receptive radius, in HR pixels
        want = zeros(torch.nn.functional.pad(frame, (4, 4, 4, 4), mode="replicate"))[..., m:-m, m:-m]
        assert got.shape == (2, 1, 11 * scale, 6 * scale)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
        # Away from the edges both borders compute the same; at the edges they differ.
        inner = zeros(frame)
        torch.testing.assert_close(got[..., m:-m, m:-m], inner[..., m:-m, m:-m], atol=1e-6, rtol=0)
        assert (got[..., :scale, :] - inner[..., :scale, :]).abs().max() > 1e-4
        assert replicate(torch.rand(1, 1, 1, 1)).shape == (1, 1, scale, scale)
    assert replicate.config["border"] == "replicate"
    with pytest.raises(ConfigError, match="border"):
        create_model("espcn", scale, border="mirror")
    with pytest.raises(ConfigError, match="no setting blocks"):
        create_model("espcn", scale, blocks=2)


def msrn_params(scale, blocks=8, f=64):
    block = conv_params(f, f, 3) + conv_params(f, f, 5) + conv_params(2 * f, 2 * f, 3) + conv_params(2 * f, 2 * f, 5) + conv_params(4 * f, f, 1)
    up = {2: conv_params(f, 4 * f, 3), 3: conv_params(f, 9 * f, 3), 4: 2 * conv_params(f, 4 * f, 3)}[scale]
    return conv_params(1, f, 3) + blocks * block + conv_params(f * (blocks + 1), f, 1) + conv_params(f, f, 3) + up + conv_params(f, 1, 3)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrn_matches_reference_layout(scale):
    model = create_model("msrn", scale)
    assert sum(p.numel() for p in model.parameters()) == msrn_params(scale)
    assert len(model.body) == 8
    with torch.no_grad():
        assert model(torch.rand(1, 1, 6, 5)).shape == (1, 1, 6 * scale, 5 * scale)


def test_msrn_block_count_is_configurable():
    model = create_model("msrn", 2, blocks=2, features=16)
    assert len(model.body) == 2
    assert sum(p.numel() for p in model.parameters()) == msrn_params(2, blocks=2, f=16)


def test_pixel_shuffle_order_puts_channel_i_r_plus_j_at_offset_i_j():
    # Drive the sub-pixel layer so that channel c outputs the constant c: the shuffled output
    # must then hold c = i * r + j at position (y * r + i, x * r + j).
    r = 3
    model = create_model("espcn", r)
    with torch.no_grad():
        model.sub_pixel.weight.zero_()
        model.sub_pixel.bias.copy_(torch.arange(r * r, dtype=torch.float32))
        out = model(torch.rand(1, 1, 2, 2))[0, 0]
    for yy in range(2 * r):
        for xx in range(2 * r):
            assert out[yy, xx].item() == (yy % r) * r + (xx % r)


def test_registry_lists_both_and_rejects_unknowns():
    assert {"espcn", "msrn"} <= set(list_models())
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("srgan", 2)
    with pytest.raises(ConfigError, match="scales"):
        create_model("espcn", 5)


def test_sizing_on_the_meta_device_skips_the_initialisers_that_cost_every_start_up_seconds():
    # The first random fill of a meta tensor makes torch load its meta kernels (1.3-2.5 s on 2
    # cores) though it computes nothing; `vsr upscale` sizes every model that way before loading it.
    import subprocess
    import sys

    from tests.conftest import REPO
    from vsr.models.registry import create_meta_model

    code = ("import time, torch\nfrom vsr.models.registry import create_meta_model\nt = time.perf_counter()\n"
            "create_meta_model('msrn', 2, {})\nprint(time.perf_counter() - t)")
    seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout)
    assert seconds < 0.5, seconds
    meta = create_meta_model("espcn", 3, {})
    real = create_model("espcn", 3)
    assert all(p.is_meta for p in meta.parameters())
    assert [p.shape for p in meta.parameters()] == [p.shape for p in real.parameters()]
    assert real.feature_maps[0].weight.detach().std() > 0  # real models are still initialised
