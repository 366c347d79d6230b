"""bf16_speed: the flags decide where they can; the probe decides AVX512-BF16 without AMX, once."""
import json
import math

import pytest

from vsr import sysinfo
from vsr.backends import bf16_speed


@pytest.fixture()
def cpu(monkeypatch, tmp_path):
    """A CPU with the given flags, a fresh cache, and a probe that reports what it is told (and
    counts its calls); bf16_pays forgets its verdict before and after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    probe = {"speedup": 1.0, "calls": 0}

    def measured(threads=None):
        probe["calls"] += 1
        return probe["speedup"]

    def with_flags(*flags: str) -> dict:
        monkeypatch.setattr(sysinfo, "cpu_flags", lambda: {"avx512f", *flags})
        monkeypatch.setattr(bf16_speed, "measure_bf16_speedup", measured)
        bf16_speed.bf16_pays.cache_clear()
        return probe

    yield with_flags
    bf16_speed.bf16_pays.cache_clear()


def test_amx_pays_and_no_bf16_instructions_do_not_without_a_probe(cpu):
    probe = cpu("avx512_bf16", "amx_bf16", "amx_tile")
    assert bf16_speed.bf16_pays() and bf16_speed.cpu_has_bf16()
    probe = cpu("avx2")
    assert not bf16_speed.bf16_pays() and not bf16_speed.cpu_has_bf16()
    assert probe["calls"] == 0


@pytest.mark.parametrize("speedup, pays", [(0.7, False), (1.1, False), (2.4, True)])
def test_avx512_bf16_alone_is_decided_by_the_probe_and_measured_once(cpu, tmp_path, speedup, pays):
    probe = cpu("avx512_bf16")
    probe["speedup"] = speedup
    assert bf16_speed.bf16_pays() is pays
    assert bf16_speed.cpu_has_bf16()  # the instructions are there either way: bf16 may be asked for
    bf16_speed.bf16_pays.cache_clear()  # a later process: the verdict comes from the cache file
    assert bf16_speed.bf16_pays() is pays and probe["calls"] == 1
    (cached,) = (tmp_path / "vsr" / "probes").iterdir()
    assert json.loads(cached.read_text())["speedup"] == speedup


def test_a_first_verdict_looks_for_the_cache_file_once_then_measures(cpu, monkeypatch):
    probe = cpu("avx512_bf16")
    probe["speedup"] = 2.4
    reads = []
    read = bf16_speed._read_cached_speedup
    monkeypatch.setattr(bf16_speed, "_read_cached_speedup", lambda: reads.append(1) or read())
    assert bf16_speed.bf16_pays()
    assert len(reads) == 1 and probe["calls"] == 1


@pytest.mark.parametrize("content", ['{"speedup": "fast"}', '{"speedup": -1.0}', "not json", '{"speedup": NaN}'])
def test_a_damaged_cache_file_is_measured_anew(cpu, tmp_path, content):
    probe = cpu("avx512_bf16")
    probe["speedup"] = 2.0
    assert bf16_speed.cached_bf16_speedup() == 2.0
    (cached,) = (tmp_path / "vsr" / "probes").iterdir()
    cached.write_text(content)
    assert bf16_speed.cached_bf16_speedup() == 2.0 and probe["calls"] == 2
    assert json.loads(cached.read_text())["speedup"] == 2.0  # and written again


def test_the_probe_times_real_convolutions_and_leaves_the_thread_count_alone():
    import torch

    before = torch.get_num_threads()
    speedup = bf16_speed.measure_bf16_speedup(threads=1)
    # A ratio of two real timings: far below 1 where bf16 is emulated (0.015 measured on an AMD EPYC
    # with AVX2 alone), above 1 with AVX512-BF16 or AMX.
    assert math.isfinite(speedup) and 1e-4 < speedup < 50
    assert torch.get_num_threads() == before


def test_a_cache_that_cannot_be_written_still_gives_the_verdict(cpu, tmp_path):
    probe = cpu("avx512_bf16")
    probe["speedup"] = 2.0
    (tmp_path / "vsr").write_text("a file where the cache folder should be")
    assert bf16_speed.bf16_pays() and probe["calls"] == 1


def test_an_oversized_cache_file_is_not_read(cpu, tmp_path):
    probe = cpu("avx512_bf16")
    probe["speedup"] = 0.8
    assert bf16_speed.cached_bf16_speedup() == 0.8
    (cached,) = (tmp_path / "vsr" / "probes").iterdir()
    cached.write_text('{"speedup": 3.0, "padding": "' + "x" * 10_000 + '"}')
    assert bf16_speed.cached_bf16_speedup() == 0.8 and probe["calls"] == 2


def test_the_known_verdict_never_measures_and_follows_the_cache(cpu):
    probe = cpu("avx512_bf16", "amx_bf16")
    assert bf16_speed.known_bf16_verdict() is True
    probe = cpu("avx2")
    assert bf16_speed.known_bf16_verdict() is False
    probe = cpu("avx512_bf16")
    probe["speedup"] = 0.8
    assert bf16_speed.known_bf16_verdict() is None and probe["calls"] == 0
    assert bf16_speed.bf16_pays() is False and probe["calls"] == 1
    assert bf16_speed.known_bf16_verdict() is False and probe["calls"] == 1


def test_building_the_command_line_costs_no_probe(cpu):
    """Every command builds every subcommand's flags, help text included: no timing for that."""
    from vsr.cli.main import build_parser

    probe = cpu("avx512_bf16")
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["upscale", "--help"])
    assert probe["calls"] == 0
