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


def _speed_report() -> dict:
    stages = {"decode": 1.0, "to_tensor": 0.5, "sr": 20.0, "to_frame": 2.0, "encode": 8.0}
    return {"model": "espcn", "results": [{
        "input": "/clips/bus_cif.y4m", "input_size": [352, 288], "output_size": [704, 576], "scale": 2, "fps": 40.0,
        "stage_ms_per_frame": stages, "runner": {"backend": "onnxruntime", "device": "cpu", "precision": "fp32"},
    }]}


def _drawn_figure(monkeypatch):
    """The figure a plot function draws (kept open to be inspected)."""
    pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'vsr[bench]'")
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    return kept


def test_the_speed_plot_is_titled_names_its_inputs_and_labels_its_bars(tmp_path, monkeypatch):
    from vsr.benchmark.speed import plot_speed

    kept = _drawn_figure(monkeypatch)
    assert plot_speed(_speed_report(), tmp_path / "s.png") == tmp_path / "s.png" and (tmp_path / "s.png").stat().st_size > 0
    (ax,) = kept[0].axes
    assert "ms per frame by stage" in ax.get_title()
    assert any("bus_cif.y4m" in t.get_text() and "352x288 -> 704x576" in t.get_text() for t in ax.get_xticklabels())
    labels = {t.get_text() for t in ax.texts}
    assert {"20.0", "8.0", "25.0"} <= labels  # sr, encode and end to end (1000 / 40 fps)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["decode", "to_tensor", "sr", "to_frame", "encode", "end to end"]


def test_the_quality_plot_puts_peers_and_papers_beside_vsr_with_values(tmp_path, monkeypatch):
    from vsr.benchmark.report import plot_quality_gain

    kept = _drawn_figure(monkeypatch)
    report = {"results": [{
        "dataset": "Set5", "scale": 3, "images": 5,
        "mean": {"bicubic": {"psnr": 30.38}, "vsr-espcn": {"psnr": 32.83}, "opencv-espcn": {"psnr": 32.60}},
        "published": {"bicubic": {"psnr": 30.39, "ssim": None}, "espcn": {"psnr": 32.55, "ssim": None}},
    }]}
    plot_quality_gain(report, tmp_path / "q.png")
    (ax,) = kept[0].axes
    assert "gain over bicubic" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vsr-espcn", "opencv-espcn", "paper espcn"]
    assert {"2.45", "2.22", "2.16"} <= {t.get_text() for t in ax.texts}
    assert "Set5 x3" in ax.get_xticklabels()[0].get_text() and "5 images" in ax.get_xticklabels()[0].get_text()


def test_without_matplotlib_one_line_says_no_plot_was_drawn(tmp_path, cli, monkeypatch):
    import vsr.benchmark.report

    monkeypatch.setattr(vsr.benchmark.report, "pyplot", lambda: None)
    code, err = cli("bench", "speed", "--size", "32x24", "--frames", "2", "--repeats", "1", "--json", tmp_path / "s.json")
    assert code == 0, err
    assert "vsr: no plot drawn: matplotlib is not installed (pip install 'vsr[bench]')" in err.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.md"]
