"""vsr.cluster.inputs: a file, a folder or a list of videos, and where each output goes."""
import pytest

from vsr.cluster.inputs import list_videos
from vsr.errors import ConfigError, InputError, OutputError


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_one_file_gives_one_output_file(tmp_path):
    pairs, folder = list_videos(touch(tmp_path / "a.avi"), tmp_path / "b.mp4")
    assert not folder and [(p.source.name, p.target.name) for p in pairs] == [("a.avi", "b.mp4")]


def test_a_folder_gives_its_videos_with_writable_names(tmp_path):
    for name in ("b.mp4", "a.avi", "c.mkv", "notes.txt", "cover.png", "d.y4m"):
        touch(tmp_path / "in" / name)
    pairs, folder = list_videos(tmp_path / "in", tmp_path / "out")
    assert folder
    assert [(p.source.name, p.target.name) for p in pairs] == [("a.avi", "a.mkv"), ("b.mp4", "b.mp4"), ("c.mkv", "c.mkv"), ("d.y4m", "d.mkv")]
    assert all(p.target.parent == tmp_path / "out" for p in pairs)


def test_a_list_file_names_videos_relative_to_itself(tmp_path):
    touch(tmp_path / "clips" / "x.mov")
    absolute = touch(tmp_path / "y.webm")
    (tmp_path / "list.txt").write_text(f"# to do\nclips/x.mov\n\n{absolute}\n")
    pairs, folder = list_videos(tmp_path / "list.txt", tmp_path / "out")
    assert folder and [p.target.name for p in pairs] == ["x.mov", "y.webm"]


def test_problems_are_said_before_any_work(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list_videos(tmp_path / "missing.mp4", tmp_path / "b.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos"):
        list_videos(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "list.txt").write_text("gone.mp4\n")
    with pytest.raises(InputError, match=r"list.txt:1: gone.mp4"):
        list_videos(tmp_path / "list.txt", tmp_path / "out")
    touch(tmp_path / "two" / "a.avi")
    touch(tmp_path / "two" / "a.mkv")
    with pytest.raises(OutputError, match="both be written"):
        list_videos(tmp_path / "two", tmp_path / "out")
    touch(tmp_path / "file.mp4")
    with pytest.raises(OutputError, match="not a folder"):
        list_videos(tmp_path / "two", tmp_path / "file.mp4")
    with pytest.raises(ConfigError, match="stdin"):
        list_videos("-", tmp_path / "b.mp4")
