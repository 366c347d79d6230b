import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.conftest import REPO
from vsr.errors import InputError
from vsr.imaging.image_io import list_images


def test_list_images_gives_the_image_files_of_a_folder_sorted_by_name(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.tif"):
        PILImage.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / name, format="PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "folder.png").mkdir()  # a folder with an image's name is not an image
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tif"]


def test_list_images_refuses_a_file_and_an_empty_folder_in_one_line(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        list_images(tmp_path / "missing")
    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(InputError) as info:
        list_images(tmp_path / "clip.mp4", " (it is a folder, not a video file)")
    assert str(info.value) == f"{tmp_path / 'clip.mp4'}: no images found (it is a folder, not a video file)"


def test_evaluation_lists_images_without_importing_the_trainer():
    # list_images lived in vsr.training.data, so `vsr eval` imported the training package for it.
    code = "import sys, vsr.evaluation; print('vsr.training' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
