import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import assert_cli_error, assert_one_line_error, hide_shipped, run_vsr

from vsr.errors import WeightsError
from vsr.models import create_model, load_model, manifest
from vsr.shipped import shipped_path
from vsr.files import sha256_file
from vsr.models.weights import load_weights_into, read_weights, save_weights


def test_safetensors_round_trip_keeps_every_tensor_and_identity(tmp_path):
    model = create_model("espcn", 3, activation="relu")
    path = tmp_path / "w.safetensors"
    save_weights(model, path, extra={"epoch": "7"})
    tensors, meta = read_weights(path)
    assert meta["model"] == "espcn" and meta["scale"] == "3" and meta["epoch"] == "7"
    assert json.loads(meta["config"])["activation"] == "relu"
    loaded = load_model("espcn", 3, weights=path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert loaded.config["activation"] == "relu"  # architecture comes back from the header


def test_half_precision_file_loads_into_fp32_model(tmp_path):
    model = create_model("espcn", 2)
    path = tmp_path / "half.safetensors"
    save_weights(model, path, half=True)
    assert all(t.dtype == torch.float16 for t in read_weights(path)[0].values())
    loaded = load_model("espcn", 2, weights=path)
    assert next(loaded.parameters()).dtype == torch.float32


def test_wrong_scale_wrong_model_corrupt_and_missing_files_are_weights_errors(tmp_path):
    path = tmp_path / "x2.safetensors"
    save_weights(create_model("espcn", 2), path)
    with pytest.raises(WeightsError, match="scale x2, not x3"):
        load_model("espcn", 3, weights=path)
    with pytest.raises(WeightsError, match="for model 'espcn', not 'msrn'"):
        load_weights_into(create_model("msrn", 2), path)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_model("espcn", 2, weights=corrupt)
    with pytest.raises(WeightsError, match="not found"):
        load_model("espcn", 2, weights=tmp_path / "nope.safetensors")


def test_every_shipped_weight_file_matches_its_manifest_entry():
    entries = manifest()
    assert {(e["model"], int(e["scale"])) for e in entries} >= {("espcn", 2), ("espcn", 3), ("espcn", 4)}
    for entry in entries:
        path = shipped_path(entry)
        assert path.stat().st_size <= 16 * 1024 * 1024
        assert sha256_file(path) == entry["sha256"]
        for key in ("training_data", "command", "epochs", "metrics"):
            assert entry[key], key
        # How the file was made, after every step before it: runs of vsr train, and means of runs.
        recipe = entry["recipe"]
        assert recipe[0].startswith("vsr train ") and recipe[-1] == entry["command"]
        assert all(step.startswith(("vsr train ", "python scripts/average_runs.py ")) for step in recipe), recipe
        set5 = entry["metrics"]["Set5"]
        assert set5["model"]["psnr"] > set5["bicubic"]["psnr"]
        model = load_model(entry["model"], int(entry["scale"]))
        assert model.scale == int(entry["scale"])


def test_msrn_without_shipped_weights_says_how_to_get_them(monkeypatch):
    hide_shipped(monkeypatch, "msrn", 4)
    with pytest.raises(WeightsError, match="vsr train --model msrn --scale 4") as refused:
        load_model("msrn", 4)
    assert "--init-weights" in str(refused.value) and "msrn_x2.safetensors" in str(refused.value)  # x2 ships: start there
    hide_shipped(monkeypatch, "msrn", 2, 3, 4)
    with pytest.raises(WeightsError, match="no msrn weights ship with vsr") as refused:
        load_model("msrn", 2)
    assert "--init-weights" not in str(refused.value)


# --- crafted files: refused in one line, before anything large is allocated (issue 20, items 6, 8, 9)


def craft(path, tensors: dict, **metadata) -> str:
    """A safetensors file with exactly these tensors and header fields (what an attacker could write)."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={k: str(v) for k, v in metadata.items()})
    return str(path)


def espcn_x2_tensors() -> dict:
    torch.manual_seed(0)
    return dict(create_model("espcn", 2).state_dict())


GOOD_CONFIG = '{"activation": "tanh", "features": [64, 32], "border": "zeros"}'
HEADER_CASES = {
    "scale_x2": ({"scale": "x2", "config": GOOD_CONFIG}, "scale must be an integer"),
    "config_list": ({"scale": "2", "config": "[1, 2]"}, "must be a JSON object"),
    "config_not_json": ({"scale": "2", "config": "{features"}, "not valid JSON"),
    "config_with_scale": ({"scale": "2", "config": '{"scale": 3, "features": [64, 32]}'}, "must not contain 'scale'"),
    "features_int": ({"scale": "2", "config": '{"features": 5}'}, "features must be a list of 2"),
    "features_negative": ({"scale": "2", "config": '{"features": [-1, 32]}'}, "integer from 1 to"),
    "features_float": ({"scale": "2", "config": '{"features": [64.5, 32]}'}, "integer from 1 to"),
    "features_6000": ({"scale": "2", "config": '{"features": [6000, 6000]}'}, "integer from 1 to"),
    "features_huge": ({"scale": "2", "config": '{"features": [100000, 100000]}'}, "integer from 1 to"),
    "activation_number": ({"scale": "2", "config": '{"activation": 5}'}, "activation must be a string"),
    "features_large": ({"scale": "2", "config": '{"features": [1000, 1000]}'}, "do not fit espcn x2"),
    "unknown_setting": ({"scale": "2", "config": '{"depth": 3}'}, "no setting depth"),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_crafted_header_is_one_line_with_no_output(tmp_path, cli, case):
    metadata, fragment = HEADER_CASES[case]
    weights = craft(tmp_path / "bad.safetensors", espcn_x2_tensors(), format="vsr", model="espcn", **metadata)
    picture = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(picture)
    out = tmp_path / "out.png"
    line = assert_cli_error(cli("upscale", picture, out, "--weights", weights), fragment)
    assert "bad.safetensors" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "in.png"]


def test_config_too_large_for_its_tensors_is_refused_before_allocating(tmp_path):
    """An 86 KB file whose config says [6000, 6000] used to build a 1.5 GB model before refusing."""
    weights = craft(tmp_path / "big.safetensors", espcn_x2_tensors(), format="vsr", model="espcn", scale="2",
                    config='{"activation": "tanh", "features": [1000, 1000], "border": "zeros"}')
    # The peak resident size is reset (Linux /proc/self/clear_refs) after a first load has done
    # its lazy imports, so what the refusal itself allocates is measured.
    script = (
        "import sys\n"
        "from vsr.errors import WeightsError\n"
        "from vsr.models import load_model\n"
        "def kb(field):\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(field))\n"
        "load_model('espcn', 2)\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "base = kb('VmRSS')\n"
        f"try:\n    load_model('espcn', 2, {weights!r})\nexcept WeightsError as e:\n    print(e, file=sys.stderr)\n"
        "print((kb('VmHWM') - base) // 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "do not fit espcn x2" in result.stderr, result.stderr
    grown_mb = int(result.stdout.split()[-1])
    assert grown_mb < 20, f"{grown_mb} MB allocated to refuse a small file"  # [1000, 1000] alone is 36 MB


def test_model_size_is_bounded_even_when_every_setting_is_in_range():
    from vsr.errors import ConfigError
    from vsr.models.registry import MAX_PARAMETERS

    with pytest.raises(ConfigError, match=f"at most {MAX_PARAMETERS:,}"):
        create_model("msrn", 2, blocks=100, features=64)  # 71 M parameters


def test_integer_dtype_relabelled_from_float_is_refused(tmp_path):
    """The same bytes read as I32 become ~1e9 after conversion: an all-white video, exit 0, before."""
    tensors = espcn_x2_tensors()
    tensors["sub_pixel.bias"] = tensors["sub_pixel.bias"].view(torch.int32)
    weights = craft(tmp_path / "i32.safetensors", tensors, format="vsr", model="espcn", scale="2", config=GOOD_CONFIG)
    with pytest.raises(WeightsError, match="sub_pixel.bias is stored as I32; weights must be floating point"):
        load_model("espcn", 2, weights)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, bad):
    tensors = espcn_x2_tensors()
    tensors["feature_maps.2.weight"][3, 1, 0, 0] = bad
    weights = craft(tmp_path / "nan.safetensors", tensors, format="vsr", model="espcn", scale="2", config=GOOD_CONFIG)
    with pytest.raises(WeightsError, match="feature_maps.2.weight holds NaN or infinite values"):
        load_model("espcn", 2, weights)


def test_crafted_header_through_a_real_process_has_no_traceback(tmp_path):
    weights = craft(tmp_path / "bad.safetensors", espcn_x2_tensors(), format="vsr", model="espcn", scale="2", config='{"features": 5}')
    picture = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(picture)
    assert_one_line_error(run_vsr("upscale", picture, tmp_path / "out.png", "--weights", weights), "features must be a list of 2")
    assert not (tmp_path / "out.png").exists()


def test_a_weights_file_gets_the_umasks_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_weights(create_model("espcn", 2), tmp_path / "w.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
