import json

import numpy as np
import pytest
import torch
from PIL import Image

from vsr.models import create_model
from vsr.models.weights import read_weights
from vsr.training import TrainConfig, train
from vsr.training.checkpoint import load_checkpoint
from vsr.training.data import PatchDataset, make_pair


def make_images(folder, count, size, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        # Smooth random images: something a tiny net can learn a little of.
        small = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(folder / f"img{i}.png")
    return folder


def config(tmp_path, out, epochs):
    return TrainConfig(
        model="espcn", scale=2, train_dirs=[str(tmp_path / "train")], val_dirs=[str(tmp_path / "val")],
        out_dir=str(tmp_path / out), patch_size=8, batch_size=8, epochs=epochs, patches_per_epoch=64,
        lr=1e-3, seed=3, command="vsr train (test)",
    )


def test_resume_gives_the_same_state_as_an_unbroken_run(tmp_path):
    make_images(tmp_path / "train", 3, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    quiet = dict(log=lambda _: None)
    unbroken = train(config(tmp_path, "a", 3), **quiet)


    def crash_after_first_epoch(line):
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "b", 3), log=crash_after_first_epoch)
    # A run killed mid-schedule still says what it has: its summary is written after every epoch.
    crashed = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert crashed["epochs"] == 1 and crashed["best_epoch"] == 1 and len(crashed["history"]) == 1
    resumed = train(config(tmp_path, "b", 3), resume=str(tmp_path / "b" / "checkpoint.pt"), **quiet)  # ...and resume

    a, b = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"]
    assert a["scheduler"] == b["scheduler"]
    assert [h["val_psnr"] for h in unbroken["history"]] == [h["val_psnr"] for h in resumed["history"]]

    # The best weights are a safetensors file carrying the epoch and PSNR they were chosen by.
    _, meta = read_weights(tmp_path / "a" / "best.safetensors")
    assert int(meta["epoch"]) == unbroken["best_epoch"]
    assert float(meta["val_psnr"]) == round(unbroken["best_val_psnr"], 4)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["epochs"] == 3 and len(summary["history"]) == 3


def test_patches_are_aligned_and_the_plan_depends_only_on_seed_and_epoch():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (60, 60), dtype=np.uint8)
    pair = make_pair(hr, 3)
    ds1 = PatchDataset([pair], 3, lr_patch=6, patches_per_epoch=20, seed=5)
    ds2 = PatchDataset([pair], 3, lr_patch=6, patches_per_epoch=20, seed=5)
    ds2.set_epoch(4)
    ds2.set_epoch(0)
    for i in range(20):
        lr1, hr1 = ds1[i]
        lr2, hr2 = ds2[i]
        assert torch.equal(lr1, lr2) and torch.equal(hr1, hr2)
        assert lr1.shape == (1, 6, 6) and hr1.shape == (1, 18, 18)
    # Alignment: with no augmentation, the LR patch is the bicubic of its HR patch's area.
    plain = PatchDataset([pair], 3, lr_patch=6, patches_per_epoch=5, seed=1, augment=False)
    for i in range(5):
        y, x = int(plain._y[i]), int(plain._x[i])
        lr, hr_patch = plain[i]
        assert torch.equal(hr_patch[0], torch.from_numpy(pair.hr[y * 3 : y * 3 + 18, x * 3 : x * 3 + 18].astype(np.float32) / 255))
        assert torch.equal(lr[0], torch.from_numpy(pair.lr[y : y + 6, x : x + 6].astype(np.float32) / 255))


def test_stop_at_then_resume_equals_an_unbroken_run_and_records_both_commands(tmp_path):
    make_images(tmp_path / "train", 3, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    quiet = dict(log=lambda _: None)
    unbroken = train(config(tmp_path, "a", 3), **quiet)

    first = train(config(tmp_path, "b", 3), stop_at=1, **quiet)
    assert first["epochs"] == 1 and first["schedule_epochs"] == 3
    assert not (tmp_path / "b" / "last.safetensors").exists()  # only a finished schedule has "last" weights
    resumed_config = config(tmp_path, "b", 3)
    resumed_config.command = "vsr train --resume (test)"
    resumed = train(resumed_config, resume=str(tmp_path / "b" / "checkpoint.pt"), **quiet)

    assert [h["val_psnr"] for h in resumed["history"]] == [h["val_psnr"] for h in unbroken["history"]]
    a, b = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert resumed["invocations"] == [
        {"command": "vsr train (test)", "epochs": 3, "first_epoch": 1, "last_epoch": 1},
        {"command": "vsr train --resume (test)", "epochs": 3, "first_epoch": 2, "last_epoch": 3},
    ]
    assert (tmp_path / "b" / "last.safetensors").exists()


@pytest.mark.parametrize("border", ["zeros", "replicate"])
def test_context_patches_weight_only_pixels_that_whole_image_inference_computes_the_same(border):
    torch.manual_seed(0)
    model = create_model("espcn", 3, border=border).eval()
    rng = np.random.default_rng(2)
    pair = make_pair(rng.integers(0, 256, (45, 60), dtype=np.uint8), 3)  # LR 15 x 20
    p, c = 6, 4  # ESPCN's receptive radius is 4 LR pixels
    whole = model(torch.from_numpy(pair.lr.astype(np.float32) / 255)[None, None])[0, 0]
    dataset = PatchDataset([pair], 3, lr_patch=p, patches_per_epoch=40, seed=7, augment=False, context=c)
    touched_border = False
    with torch.no_grad():
        for i in range(40):
            lr, hr, weight = dataset[i]
            assert lr.shape == (1, 14, 14) and hr.shape == weight.shape == (1, 42, 42)
            y, x = int(dataset._y[i]), int(dataset._x[i])
            touched_border |= y < c or x < c
            rows, cols = torch.nonzero(weight[0], as_tuple=True)
            assert len(rows) == (p * 3) ** 2 and float(weight.sum()) == (p * 3) ** 2
            wy, wx = y - int(rows.min()) // 3, x - int(cols.min()) // 3  # the window's corner in the image
            out = model(lr[None])[0, 0][rows, cols]
            assert torch.allclose(out, whole[rows + wy * 3, cols + wx * 3], atol=1e-6)
            assert torch.equal(hr[0][rows, cols], torch.from_numpy(pair.hr.astype(np.float32) / 255)[rows + wy * 3, cols + wx * 3])
    assert touched_border  # windows at the image's edge were drawn and checked too

    # Flips and rotations move the weight with the pixels; the plan is the same with or without context.
    augmented = PatchDataset([pair], 3, lr_patch=p, patches_per_epoch=40, seed=7, context=c)
    plain = PatchDataset([pair], 3, lr_patch=p, patches_per_epoch=40, seed=7)
    assert np.array_equal(augmented._y, plain._y) and np.array_equal(augmented._aug, plain._aug)
    for i in range(40):
        lr, hr, weight = augmented[i]
        _, plain_hr = plain[i]
        rows, cols = torch.nonzero(weight[0], as_tuple=True)
        block = hr[0][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert torch.equal(block, plain_hr[0])


def test_training_with_context_runs_and_its_loss_counts_only_the_weighted_pixels(tmp_path):
    from vsr.training.trainer import _loss

    sr, hr = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    weight = torch.zeros_like(sr)
    weight[:, :, 2:6, 2:6] = 1
    expected = (sr[:, :, 2:6, 2:6] - hr[:, :, 2:6, 2:6]).square().mean()
    assert torch.allclose(_loss("mse", sr, hr, weight), expected)
    assert torch.allclose(_loss("l1", sr, hr, weight), (sr - hr)[:, :, 2:6, 2:6].abs().mean())
    assert torch.allclose(_loss("mse", sr, hr), torch.nn.functional.mse_loss(sr, hr))

    make_images(tmp_path / "train", 3, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    cfg = config(tmp_path, "a", 2)
    cfg.context = 4
    summary = train(cfg, log=lambda _: None)
    assert summary["config"]["context"] == 4 and len(summary["history"]) == 2
    assert all(np.isfinite(h["loss"]) for h in summary["history"])


def test_scale_augment_adds_each_image_shrunk_by_each_factor_with_its_own_lr(tmp_path):
    from vsr.imaging.resize import imresize
    from vsr.training.data import load_pairs

    make_images(tmp_path / "train", 2, 48, 0)
    plain = load_pairs([tmp_path / "train"], 2)
    augmented = load_pairs([tmp_path / "train"], 2, (0.75, 0.5))
    assert [p.name for p in augmented] == ["img0.png", "img0.png@0.75", "img0.png@0.5", "img1.png", "img1.png@0.75", "img1.png@0.5"]
    assert np.array_equal(augmented[0].hr, plain[0].hr)
    shrunk = augmented[1]
    assert shrunk.hr.shape == (36, 36) and shrunk.lr.shape == (18, 18)
    assert np.array_equal(shrunk.hr, imresize(plain[0].hr, 0.75))
    assert np.array_equal(shrunk.lr, imresize(shrunk.hr, 0.5))
    assert augmented[2].hr.shape == (24, 24)


def test_phase_augment_gives_every_sub_pixel_phase_its_own_lr_of_the_same_image(tmp_path):
    from vsr.imaging.resize import imresize
    from vsr.training.data import load_pairs

    make_images(tmp_path / "train", 1, 50, 0)
    plain = load_pairs([tmp_path / "train"], 3)[0]
    phases = load_pairs([tmp_path / "train"], 3, (0.8,), phases=True)
    assert len(phases) == 2 * 9  # the image and its shrunk copy, each at 3 x 3 offsets
    assert [p.name for p in phases[:4]] == ["img0.png+0,0", "img0.png+0,1", "img0.png+0,2", "img0.png+1,0"]
    assert all(p.name.startswith("img0.png@0.8+") for p in phases[9:])
    # Offset (0, 0) is the plain pair; the others are the same scene, shifted, each with its own LR.
    assert np.array_equal(phases[0].hr, plain.hr) and np.array_equal(phases[0].lr, plain.lr)
    shifted = phases[4]  # offset (1, 1): 49 of the 50 rows and columns left, cropped to 48
    assert shifted.hr.shape == (48, 48) and shifted.lr.shape == (16, 16)
    assert np.array_equal(shifted.hr[:-1, :-1], plain.hr[1:, 1:])
    assert np.array_equal(shifted.lr, imresize(np.ascontiguousarray(shifted.hr), 1 / 3))
    assert len({p.lr.tobytes() for p in phases[:9]}) == 9
    # Patches drawn from them line up as the plain ones do.
    dataset = PatchDataset(phases, 3, 8, 16, seed=1)
    for lr, hr in (dataset[i] for i in range(16)):
        assert lr.shape == (1, 8, 8) and hr.shape == (1, 24, 24)


def test_train_cli_takes_scale_augment_and_border_and_refuses_what_does_not_apply(tmp_path, cli):
    from tests.conftest import assert_cli_error

    make_images(tmp_path / "train", 2, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    common = ("train", "--scale", "2", "--train-dir", tmp_path / "train", "--val-dir", tmp_path / "val",
              "--patch-size", "8", "--context", "0", "--batch-size", "8", "--epochs", "1", "--patches-per-epoch", "16", "--quiet")
    code, err = cli(*common, "--out", tmp_path / "a", "--scale-augment", "0.9,0.6", "--phase-augment")
    assert code == 0, err
    assert "24 training images" in err  # 2 images x (1 + 2 shrunk) x 2 x 2 phases
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["config"]["scale_augment"] == [0.9, 0.6] and summary["config"]["phase_augment"] is True
    assert summary["config"]["model_config"]["border"] == "replicate"  # ESPCN's default for new runs
    # The defaults are the shipped weights' recipe (tests/test_cli_help.py checks them all).
    assert read_weights(tmp_path / "a" / "best.safetensors")[1]["config"] == '{"activation": "relu", "features": [64, 32], "border": "replicate"}'
    assert_cli_error(cli(*common, "--out", tmp_path / "c", "--model", "msrn", "--border", "zeros"), "msrn has no setting border")
    assert not (tmp_path / "c").exists()
    assert_cli_error(cli(*common, "--out", tmp_path / "b", "--scale-augment", "0.5,1.5"), "--scale-augment")
    assert not (tmp_path / "b").exists()


def test_threads_hold_for_the_run_only_and_a_progress_bar_sees_every_patch(tmp_path):
    make_images(tmp_path / "train", 3, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    cfg = config(tmp_path, "a", 2)
    cfg.threads = 1
    before = torch.get_num_threads()
    bars = []

    class Bar:
        def __init__(self, total, desc):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    train(cfg, log=lambda _: None, progress=Bar)
    assert torch.get_num_threads() == before  # the library changed nothing for the rest of the process
    assert [(b.desc, b.total, b.n, b.closed) for b in bars] == [("epoch 1/2", 64, 64, True), ("epoch 2/2", 64, 64, True)]


def test_train_cli_resumes_from_the_checkpoint_alone_and_keeps_its_schedule(tmp_path, cli):
    from tests.conftest import assert_cli_error

    make_images(tmp_path / "train", 2, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    run = ("train", "--scale", "2", "--train-dir", tmp_path / "train", "--val-dir", tmp_path / "val", "--out", tmp_path / "r",
           "--patch-size", "8", "--context", "0", "--batch-size", "8", "--epochs", "3", "--patches-per-epoch", "16", "--quiet")
    code, err = cli(*run, "--stop-at", "1")
    assert code == 0, err
    checkpoint = tmp_path / "r" / "checkpoint.pt"
    # No folders, no --epochs: the checkpoint's data, folder and 3-epoch schedule (was: the recipe's 400).
    code, err = cli("train", "--resume", checkpoint, "--quiet")
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["epochs"] == summary["schedule_epochs"] == 3
    assert [i["last_epoch"] for i in summary["invocations"]] == [1, 3]
    # Flags that cannot change a run are said to be ignored, not silently dropped.
    code, err = cli("train", "--resume", checkpoint, "--epochs", "4", "--train-dir", tmp_path / "val", "--scale", "4", "--quiet")
    assert code == 0, err
    assert "ignored with --resume: --scale, --train-dir" in err
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["config"]["scale"] == 2
    # A new run still needs its folders.
    assert_cli_error(cli("train", "--scale", "2", "--quiet"), "--train-dir, --val-dir, --out required (or --resume CHECKPOINT")
