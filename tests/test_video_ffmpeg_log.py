"""vsr.video.ffmpeg_log: FFmpeg's reasons captured, not printed; the log level restored."""
import av
import av.logging
import pytest

from vsr.video.ffmpeg_log import captured_ffmpeg_log, last_message, reason


def test_errors_are_captured_and_the_level_restored(tmp_path, capfd):
    before = av.logging.get_level()
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64)
    with captured_ffmpeg_log() as log:
        with pytest.raises(av.error.FFmpegError) as info:
            av.open(str(broken))
    assert av.logging.get_level() == before
    assert capfd.readouterr().err == ""
    assert reason(info.value, log)  # a non-empty one-line reason
    assert "\n" not in reason(info.value, log)


def test_last_message_filters_by_component():
    log = [(16, "matroska,webm", "File ended prematurely\n"), (16, "h264", "error while decoding\n")]
    assert last_message(log) == "error while decoding"
    assert last_message(log, "matroska,webm") == "File ended prematurely"
    assert last_message([], None) is None
