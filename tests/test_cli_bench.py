"""`vsr bench` as an installed user runs it: what it needs ships in the package, data is named."""
import configparser
import fnmatch
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, assert_cli_error
from vsr.benchmark.quality import load_published


def test_every_data_file_of_the_package_is_declared_package_data():
    # A file under vsr/ that setup.cfg does not list is missing from the wheel (as
    # bench/published.json was outside the package): the installed command then runs without it.
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    declared = {
        package: [p.strip() for p in patterns.replace("\n", ",").split(",") if p.strip() and not p.strip().startswith("#")]
        for package, patterns in config["options.package_data"].items()
    }
    missing = []
    for path in (REPO / "vsr").rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        package = ".".join(path.parent.relative_to(REPO).parts)
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in declared.get(package, [])):
            missing.append(str(path.relative_to(REPO)))
    assert not missing, f"not in [options.package_data]: {missing}"
    assert (REPO / "vsr" / "benchmark" / "published.json").is_file()


def test_the_shipped_published_table_is_read_without_a_path():
    published = load_published()
    assert published["figures"]["espcn"]["Set5"]["3"][0] == pytest.approx(32.55, abs=0.1)
    assert published["sources"]


def test_a_published_file_that_is_not_there_is_one_line(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("VSR_DATA", raising=False)
    images = _hr_folder(tmp_path / "Set5")
    assert_cli_error(cli("bench", "quality", "--hr", images, "--published", tmp_path / "nope.json", "--no-plot"), "nope.json")


def test_without_hr_or_data_the_quality_bench_says_what_to_give(cli, monkeypatch):
    monkeypatch.delenv("VSR_DATA", raising=False)
    line = assert_cli_error(cli("bench", "quality"), "--hr")
    assert "--data" in line and "VSR_DATA" in line


def test_a_missing_data_folder_is_one_line(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("VSR_DATA", raising=False)
    assert_cli_error(cli("bench", "quality", "--data", tmp_path / "nowhere"), "nowhere")
    monkeypatch.setenv("VSR_DATA", str(tmp_path / "elsewhere"))
    assert_cli_error(cli("bench", "quality"), "elsewhere")


def _hr_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("one.png", "two.png"):
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((48, 42), Image.BICUBIC).save(folder / name)
    return folder


def test_paper_columns_come_from_the_shipped_table_and_results_go_to_a_named_default(tmp_path, cli, monkeypatch):
    # From an installed wheel the default used to point at a file that was not installed, and the
    # paper columns vanished without a word. Results without --json land in ./vsr-bench/.
    monkeypatch.delenv("VSR_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    images = _hr_folder(tmp_path / "Set5")
    code, err = cli("bench", "quality", "--hr", images, "--scale", "3", "--models", "espcn", "--backend", "torch", "--no-plot")
    assert code == 0, err
    (written,) = (tmp_path / "vsr-bench").glob("quality-*.json")
    report = json.loads(written.read_text())
    (row,) = report["results"]
    assert row["published"]["espcn"]["psnr"] == pytest.approx(32.55, abs=0.1)
    assert "opencv-espcn" in row["skipped"]
    assert "paper espcn" in written.with_suffix(".md").read_text()
