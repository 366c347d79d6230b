"""vsr.cluster.manifest: what a rerun needs to redo only the missing segments."""
import json
import os

import pytest

from tests.video_clips import write_clip
from vsr.cluster.manifest import DONE, PENDING, Manifest
from vsr.cluster.segments import plan_segments
from vsr.cluster.settings import ClusterSettings
from vsr.files import digest_of, sha256_file
from vsr.errors import OutputError


@pytest.fixture
def manifest(tmp_path):
    src = write_clip(tmp_path / "a.mp4", frames=30, width=64, height=48, gop=8)
    work = tmp_path / "out.mp4.vsr-parts"
    work.mkdir()
    made = Manifest.create(work, ClusterSettings().fingerprint(), str(src), str(tmp_path / "out.mp4"), plan_segments(src, frames=4), ".mp4")
    made.save()
    return made


def test_it_survives_a_save_and_load(manifest):
    manifest.mark_done(1, frames=8, size=123, sha256="ab")
    manifest.save()
    loaded = Manifest.load(manifest.folder)
    assert loaded.as_dict() == manifest.as_dict()
    assert [r.state for r in loaded.segments][:2] == [PENDING, DONE]
    assert [r.part for r in loaded.segments][:2] == ["part00000.mp4", "part00001.mp4"]
    assert sorted(p.name for p in manifest.folder.iterdir()) == ["manifest.json"]  # no temporary file left


def test_a_done_segment_whose_part_went_missing_or_changed_is_pending_again(manifest, tmp_path):
    good = write_clip(tmp_path / "good.mp4", frames=4, width=32, height=24)  # a real part, as recorded
    facts = {"frames": 4, "size": good.stat().st_size, "sha256": sha256_file(good)}
    for index in (0, 1):
        manifest.part_path(manifest.segments[index]).write_bytes(good.read_bytes())
        manifest.mark_done(index, **facts)
    manifest.part_path(manifest.segments[1]).write_bytes(good.read_bytes() + b"x")
    manifest.mark_done(2, **facts)  # never written
    manifest.part_path(manifest.segments[3]).write_bytes(b"x")  # written, never recorded
    (manifest.folder / ".part00003.mp4.1234abcd.vsr-part").write_bytes(b"x")  # its task died
    size = facts["size"]
    assert manifest.recheck_done() == [
        f"{manifest.folder / 'part00001.mp4'}: its size changed ({size + 1} bytes, {size} were written); segment 1 is done again",
        f"{manifest.folder / 'part00002.mp4'}: it is gone; segment 2 is done again",
    ]
    assert [r.state for r in manifest.segments][:4] == [DONE, PENDING, PENDING, PENDING]
    assert sorted(p.name for p in manifest.folder.iterdir()) == ["manifest.json", "part00000.mp4"]


def test_other_settings_or_a_changed_source_do_not_match(manifest, tmp_path):
    source = str(tmp_path / "a.mp4")
    assert manifest.matches(ClusterSettings().fingerprint(), source)
    assert not manifest.matches(ClusterSettings(crf=30).fingerprint(), source)
    assert manifest.matches(ClusterSettings(threads=4).fingerprint(), source)  # speed only
    os.utime(source, ns=(1, 1))
    assert not manifest.matches(ClusterSettings().fingerprint(), source)


def test_the_hash_is_of_the_values_not_their_order():
    assert digest_of({"a": 1, "b": 2}) == digest_of({"b": 2, "a": 1}) != digest_of({"a": 1, "b": 3})
    # What JSON cannot hold is hashed as its text (paths in a cache key), not refused.
    assert digest_of({"p": __import__("pathlib").Path("/x")}) == digest_of({"p": "/x"})


def test_an_unreadable_or_missing_manifest_is_one_clear_error(manifest):
    manifest.path.write_text("{not json")
    with pytest.raises(OutputError, match="unreadable.*-y"):
        Manifest.load(manifest.folder)
    manifest.path.write_text(json.dumps({"format": 99}))
    with pytest.raises(OutputError, match="format 99"):
        Manifest.load(manifest.folder)
    manifest.path.unlink()
    with pytest.raises(OutputError, match="without its manifest"):
        Manifest.load(manifest.folder)
