import json

import pytest
import torch

from vsr.errors import WeightsError
from vsr.models import create_model, find_shipped, load_model, manifest
from vsr.models.pretrained import shipped_path
from vsr.models.weights import load_weights_into, read_weights, save_weights, sha256_of


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
        assert sha256_of(path) == entry["sha256"]
        for key in ("training_data", "command", "epochs", "metrics"):
            assert entry[key], key
        assert entry["command"].startswith("vsr train ")
        set5 = entry["metrics"]["Set5"]
        assert set5["model"]["psnr"] > set5["bicubic"]["psnr"]
        model = load_model(entry["model"], int(entry["scale"]))
        assert model.scale == int(entry["scale"])


def test_msrn_without_shipped_weights_says_how_to_get_them():
    if find_shipped("msrn", 2) is not None:
        pytest.skip("MSRN weights ship now")
    with pytest.raises(WeightsError, match="vsr train --model msrn"):
        load_model("msrn", 2)
