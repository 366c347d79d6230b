import json

import numpy as np
import pytest
from PIL import Image

from vsr.benchmark.quality import quality_markdown
from vsr.evaluation import evaluate_folder


@pytest.fixture
def two_images(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("one.png", "two.png"):
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((48, 42), Image.BICUBIC).save(folder / name)
    return folder


def test_quality_run_on_two_images_writes_json_markdown_and_agrees_with_eval(tmp_path, two_images, cli):
    out = tmp_path / "q.json"
    code, err = cli("bench", "quality", "--hr", two_images, "--scale", "2", "--models", "espcn,msrn", "--json", out, "--no-plot")
    assert code == 0, err
    report = json.loads(out.read_text())
    for key in ("command", "date_utc", "machine", "results", "published_sources"):
        assert key in report
    assert report["command"].startswith("vsr bench quality")
    assert {"cpu", "cores", "versions"} <= set(report["machine"])
    (row,) = report["results"]
    assert row["dataset"] == "hr" and row["scale"] == 2 and row["images"] == 2
    assert {"bicubic", "vsr-espcn"} <= set(row["mean"])
    for method, figures in row["mean"].items():
        assert 10 < figures["psnr"] < 60 and 0 < figures["ssim"] <= 1, method
    # Columns that cannot run say why instead of failing.
    for method, reason in row["skipped"].items():
        assert isinstance(reason, str) and reason, method
    if "vsr-msrn" in row["skipped"]:
        assert "msrn" in row["skipped"]["vsr-msrn"]
    # Same figures as `vsr eval` (same protocol, same pairs).
    from vsr.api import prepare_runner

    evaluated = evaluate_folder(two_images, prepare_runner("espcn", 2, backend="torch"))["mean"]
    assert row["mean"]["vsr-espcn"]["psnr"] == pytest.approx(evaluated["model"]["psnr"], abs=0.01)
    assert row["mean"]["bicubic"]["psnr"] == pytest.approx(evaluated["bicubic"]["psnr"], abs=1e-9)
    md = out.with_suffix(".md").read_text()
    assert "| hr | x2 |" in md


def test_markdown_marks_missing_columns_with_their_reason():
    report = {
        "results": [
            {"dataset": "S", "scale": 3, "mean": {"bicubic": {"psnr": 30.0, "ssim": 0.8}}, "skipped": {"opencv-espcn": "no dnn_superres"},
             "published": {"espcn": {"psnr": 32.55, "ssim": None}}}
        ]
    }
    md = quality_markdown(report)
    assert "n/a*" in md and "no dnn_superres" in md and "32.55" in md


def _shapes(rng, width: int, height: int) -> Image.Image:
    """Anti-aliased ellipses and lines drawn at 4x and reduced: sharp, natural-looking edges."""
    from PIL import ImageDraw

    big = Image.new("RGB", (4 * width, 4 * height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(big)
    for _ in range(12):
        x0, y0 = rng.integers(0, 4 * width), rng.integers(0, 4 * height)
        x1, y1 = x0 + rng.integers(8, 80), y0 + rng.integers(8, 60)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(3, 10)))
    return big.resize((width, height), Image.LANCZOS)


def test_video_quality_scores_every_frame_against_bicubic(tmp_path, cli):
    import av

    clip = tmp_path / "v.y4m"
    rng = np.random.default_rng(2)
    with av.open(str(clip), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = 48, 36, "yuv420p"
        for i in range(3):
            rgb = np.asarray(_shapes(rng, 48, 36))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    out_json = tmp_path / "vq.json"
    code, err = cli("bench", "quality", "--video", clip, "--scale", "2", "--models", "espcn", "--json", out_json, "--no-plot")
    assert code == 0, err
    report = json.loads(out_json.read_text())
    assert report["results"] == []  # --video without --hr scores the video only
    (video,) = report["video"]
    assert video["frames"] == 3 and len(video["per_frame"]) == 3 and video["scale"] == 2
    assert video["mean"]["model"] == pytest.approx(np.mean([r["model"] for r in video["per_frame"]]))
    # Edges like a real picture's: the trained ESPCN beats bicubic on each frame.
    assert all(r["model"] > r["bicubic"] + 0.5 for r in video["per_frame"]), video["per_frame"]
