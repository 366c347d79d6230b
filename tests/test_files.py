"""vsr.files: the target checks, the temporary file and its rename, the claim, stale parts."""
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from vsr.errors import OutputError
from vsr.files import (
    atomic_write,
    check_target,
    claim_output,
    commit,
    create_temp,
    lock_path,
    own_parts,
    stale_parts,
    write_json_atomically,
)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def part_name(target, host, pid):
    return f".{target.name}.{host}.{pid}.0123abcd.vsr-part"


def test_temp_name_records_the_owner_and_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        temp = create_temp(tmp_path / "out.png")
    finally:
        os.umask(old)
    assert temp.parent == tmp_path and temp.name.startswith(".out.png.") and temp.name.endswith(".vsr-part")
    assert f".{os.getpid()}." in temp.name
    # mkstemp would give 0600: an output others in the group cannot read.
    assert stat.S_IMODE(temp.stat().st_mode) == 0o644
    assert stale_parts(tmp_path / "out.png") == []  # its owner, this process, is alive


def test_own_parts_are_this_process_s_for_this_target_only(tmp_path):
    from vsr.files import _host

    target = tmp_path / "out.mp4"
    mine = create_temp(target)
    other_target = create_temp(tmp_path / "other.mp4")
    (tmp_path / part_name(target, _host(), dead_pid())).write_bytes(b"")
    (tmp_path / part_name(target, "elsewhere", os.getpid())).write_bytes(b"")
    assert own_parts(target) == [mine]
    assert own_parts(tmp_path / "other.mp4") == [other_target]


def test_atomic_write_renames_when_done_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "a.bin"
    with atomic_write(target, fsync=True) as temp:
        temp.write_bytes(b"new")
        assert not target.exists()
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as temp:
            temp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_write_json_atomically_replaces_the_file_whole_and_a_non_json_document_leaves_it_as_it_was(tmp_path):
    target = tmp_path / "summary.json"
    write_json_atomically(target, {"epochs": 3, "history": [1.5]}, indent=1)
    assert target.read_text() == '{\n "epochs": 3,\n "history": [\n  1.5\n ]\n}\n'
    with pytest.raises(TypeError):
        write_json_atomically(target, {"weights": object()})
    assert target.read_text().startswith('{\n "epochs": 3')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_write_json_atomically_writes_numpy_scalars_through_default(tmp_path):
    # Benchmarks' reports hold numpy floats, which json cannot write on its own.
    target = tmp_path / "report.json"
    write_json_atomically(target, {"fps": np.float32(24.5)}, indent=None, default=float)
    assert json.loads(target.read_text()) == {"fps": 24.5}


def test_commit_without_overwrite_keeps_a_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "out.mp4"
    temp = create_temp(target)
    temp.write_bytes(b"mine")
    target.write_bytes(b"theirs")  # another program, after the checks at start
    with pytest.raises(OutputError, match="already exists"):
        commit(temp, target, overwrite=False)
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_check_target_refuses_the_input_even_with_overwrite(tmp_path):
    src = tmp_path / "p.png"
    src.write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists"):
        check_target(src, overwrite=False, source=src)
    with pytest.raises(OutputError, match="is the input"):
        check_target(src, overwrite=True, source=str(tmp_path / "." / "p.png"))
    link = tmp_path / "q.png"
    link.symlink_to(src)
    with pytest.raises(OutputError, match="is the input"):
        check_target(link, overwrite=True, source=src)
    check_target(tmp_path / "new.png", overwrite=False, source=src)


def test_a_second_claim_on_one_target_is_refused_until_the_first_ends(tmp_path):
    target = tmp_path / "out.mkv"
    with claim_output(target):
        assert lock_path(target).exists()
        with pytest.raises(OutputError, match=rf"another vsr run \(pid {os.getpid()}\) is writing it"):
            claim_output(target)
    assert not lock_path(target).exists()
    with claim_output(target):
        pass


def test_a_claim_held_by_another_process_is_refused_and_a_killed_holder_frees_it(tmp_path):
    target = tmp_path / "out.mkv"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sys, vsr.files as f; c = f.claim_output({str(target)!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(OutputError, match=f"pid {holder.pid}"):
            claim_output(target)
    finally:
        holder.kill()
        holder.wait()
    assert lock_path(target).exists()  # SIGKILL: no clean-up ran, but the kernel dropped the lock
    with claim_output(target):
        pass
    assert not lock_path(target).exists()


def test_claim_removes_parts_of_dead_owners_only(tmp_path):
    from vsr.files import _host

    target = tmp_path / "out.mp4"
    dead = tmp_path / part_name(target, _host(), dead_pid())
    alive = tmp_path / part_name(target, _host(), os.getppid())
    elsewhere = tmp_path / part_name(target, "other-machine", dead_pid())
    other_target = tmp_path / part_name(tmp_path / "other.mp4", _host(), dead_pid())
    legacy = tmp_path / ".out.mp4.0123abcd.vsr-part"  # no owner in the name: cannot be proved stale
    for path in (dead, alive, elsewhere, other_target, legacy):
        path.write_bytes(b"x")
    with claim_output(target) as claim:
        assert claim.removed == [dead]
    assert not dead.exists()
    assert all(p.exists() for p in (alive, elsewhere, other_target, legacy))
