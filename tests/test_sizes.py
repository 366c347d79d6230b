import pytest

from tests.conftest import assert_cli_error
from vsr.errors import ConfigError
from vsr.sizes import FrameSize, parse_size


@pytest.mark.parametrize("text, size", [("320x240", (320, 240)), ("64X48", (64, 48)), (" 1920 x 1080 ", (1920, 1080))])
def test_parse_size(text, size):
    parsed = parse_size(text)
    assert parsed == size and isinstance(parsed, FrameSize) and (parsed.width, parsed.height) == size
    assert str(parsed) == f"{size[0]}x{size[1]}"


@pytest.mark.parametrize("text", ["320", "0x240", "320x0", "axb", "320x240x3", "-3x4", "1.5x2", ""])
def test_parse_size_rejects_nonsense_in_one_line_naming_the_flag(text):
    with pytest.raises(ConfigError, match="--input-size takes WIDTHxHEIGHT") as info:
        parse_size(text, "--input-size")
    assert "\n" not in str(info.value)


def test_every_size_flag_gives_the_same_line(cli):
    # Three flags once had three parsers with three messages and two error types.
    lines = [
        assert_cli_error(cli("export", "--format", "tensorrt", "--size", "big", "--device", "cuda"), "--size takes WIDTHxHEIGHT"),
        assert_cli_error(cli("bench", "speed", "--size", "big"), "--size takes WIDTHxHEIGHT"),
        assert_cli_error(cli("preview", "--web", "0", "--input-size", "big"), "--input-size takes WIDTHxHEIGHT").replace("--input-size", "--size"),
    ]
    assert len(set(lines)) == 1, lines
