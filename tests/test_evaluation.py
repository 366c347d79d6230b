import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_cli_error, shared_data
from vsr.evaluation import evaluate_folder
from vsr.imaging.resize import imresize


class BicubicRunner:
    """A 'model' that is the protocol's own bicubic: its scores must equal the bicubic column."""

    def __init__(self, scale):
        self.scale, self.name, self.device, self.precision = scale, "bicubic", "cpu", "fp64"

    def run(self, batch):
        return np.stack([imresize(plane.astype(np.float64), float(self.scale)) for plane in batch])


def test_bicubic_matches_the_published_set5_x3_figure_with_our_lr_and_matlab_lr():
    ours = evaluate_folder(shared_data("eval", "Set5"), BicubicRunner(3))["mean"]
    folder = shared_data("eval", "matlab-lr", "Set5", "x3")
    matlab = evaluate_folder(folder / "HR", BicubicRunner(3), lr_dir=folder / "LR")["mean"]
    print(f"Set5 x3 bicubic: ours {ours['bicubic']['psnr']:.3f} dB, MATLAB LR {matlab['bicubic']['psnr']:.3f} dB, published 30.39")
    assert ours["bicubic"]["psnr"] == pytest.approx(30.39, abs=0.05)
    assert abs(ours["bicubic"]["psnr"] - matlab["bicubic"]["psnr"]) < 0.05
    assert ours["model"]["psnr"] == pytest.approx(ours["bicubic"]["psnr"], abs=0.01)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shipped_espcn_beats_bicubic_and_agrees_on_our_and_matlab_lr(scale):
    from vsr.api import prepare_runner

    runner = prepare_runner("espcn", scale, backend="torch", device="cpu")
    ours = evaluate_folder(shared_data("eval", "Set5"), runner)["mean"]
    folder = shared_data("eval", "matlab-lr", "Set5", f"x{scale}")
    matlab = evaluate_folder(folder / "HR", runner, lr_dir=folder / "LR")["mean"]
    print(f"Set5 x{scale}: ESPCN {ours['model']['psnr']:.3f} dB (MATLAB LR {matlab['model']['psnr']:.3f}), bicubic {ours['bicubic']['psnr']:.3f}")
    assert abs(ours["model"]["psnr"] - matlab["model"]["psnr"]) < 0.05
    assert ours["model"]["psnr"] > ours["bicubic"]["psnr"] + 0.3
    # The manifest's figures are reproduced by this fresh evaluation.
    from vsr.models import find_shipped

    assert ours["model"]["psnr"] == pytest.approx(find_shipped("espcn", scale)["metrics"]["Set5"]["model"]["psnr"], abs=0.005)


def test_eval_cli_prints_a_table_and_writes_json(tmp_path, espcn_weights, cli, capsys):
    hr = tmp_path / "hr"
    hr.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (30, 33, 3), dtype=np.uint8)).save(hr / name)
    from vsr.cli.main import main

    assert main(["eval", "--hr", str(hr), "--scale", "3", "--weights", str(espcn_weights[3]), "--json", str(tmp_path / "r.json")]) == 0
    table = capsys.readouterr().out
    assert "a.png" in table and "b.png" in table and "mean" in table
    report = json.loads((tmp_path / "r.json").read_text())
    assert [row["name"] for row in report["images"]] == ["a.png", "b.png"]
    assert report["mean"]["model"]["psnr"] == pytest.approx(np.mean([r["model"]["psnr"] for r in report["images"]]))
    assert report["mean"]["bicubic"]["ssim"] == pytest.approx(np.mean([r["bicubic"]["ssim"] for r in report["images"]]))
    assert report["scale"] == 3 and report["command"].startswith("vsr eval")
    # A figure is quoted with the machine that measured it.
    assert report["machine"]["cores"] >= 1 and "cpu_details" in report["machine"] and "versions" in report["machine"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr", "r.json"]  # written whole, no temp file left


def test_eval_with_mismatched_lr_folder_is_one_line(tmp_path, espcn_weights, cli):
    hr, lr = tmp_path / "hr", tmp_path / "lr"
    hr.mkdir(), lr.mkdir()
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(hr / "a.png")
    Image.fromarray(np.zeros((11, 10, 3), np.uint8)).save(lr / "a.png")
    assert_cli_error(cli("eval", "--hr", hr, "--lr-dir", lr, "--scale", "3", "--weights", espcn_weights[3]), "is not HR")
    assert_cli_error(cli("eval", "--hr", tmp_path / "none", "--scale", "3", "--weights", espcn_weights[3]), "not a directory")
