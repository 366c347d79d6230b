"""vsr.video.reader: opening, probing and decoding in file order; every way an input can be bad."""
import av
import pytest

from tests.video_clips import write_audio_only, write_clip
from vsr.errors import InputError
from vsr.video.ffmpeg_log import captured_ffmpeg_log
from vsr.video.reader import VideoReader


def read_all(path):
    """The reader and, per item, the frame or (stream type, size) of the packet, read in order.

    Packets are summarised while the file is open: they point into the demuxer's streams.
    """
    with captured_ffmpeg_log() as log, VideoReader(path, log) as reader:
        items = [i if isinstance(i, av.VideoFrame) else (i.stream.type, i.size) for i in reader.items()]
        return reader, items


def test_frames_and_other_packets_come_in_file_order(tmp_path):
    clip = write_clip(tmp_path / "a.mkv", frames=6, audio="aac", subtitles=True)
    reader, items = read_all(clip)
    frames = [i for i in items if isinstance(i, av.VideoFrame)]
    packets = [i for i in items if isinstance(i, tuple)]
    assert [f.pts for f in frames] == [0, 40, 80, 120, 160, 200]
    assert {kind for kind, _ in packets} == {"audio", "subtitle"}
    assert all(size for _, size in packets)
    # Interleaved as in the file, not all other packets after the video.
    first_other = next(k for k, i in enumerate(items) if isinstance(i, tuple))
    assert first_other < len(items) - len(packets)
    assert (reader.info.width, reader.info.height, reader.info.codec) == (32, 24, "h264")
    assert reader.frames_read == 6


@pytest.mark.parametrize("tag, siting", [(b"C420jpeg", "center"), (b"C420mpeg2", "left"), (b"C420paldv", "topleft"), (b"", "center")])
def test_y4m_chroma_siting_comes_from_its_header(tmp_path, tag, siting):
    clip = write_clip(tmp_path / "a.y4m", frames=2)
    data = clip.read_bytes()
    header, rest = data.split(b"\n", 1)
    header = b" ".join(w for w in header.split(b" ") if not w.startswith(b"C") and not w.startswith(b"XYSCSS")) + (b" " + tag if tag else b"")
    clip.write_bytes(header + b"\n" + rest)
    reader, items = read_all(clip)
    assert reader.info.chroma_siting == siting
    assert len(items) == 2


def test_h264_is_left_sited(tmp_path):
    reader, _ = read_all(write_clip(tmp_path / "a.mp4", frames=2))
    assert reader.info.chroma_siting == "left"


def test_truncated_y4m_is_an_error_not_a_shorter_video(tmp_path):
    clip = write_clip(tmp_path / "a.y4m", frames=4)
    clip.write_bytes(clip.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated"):
        read_all(clip)


def test_truncated_matroska_is_an_error(tmp_path):
    clip = write_clip(tmp_path / "a.mkv", frames=30)
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated or damaged"):
        read_all(clip)


def test_truncated_mp4_is_an_error(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", frames=30)
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(InputError, match="a.mp4: not a video file"):
        read_all(clip)


def test_empty_file_text_file_and_directory(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 40)
    with pytest.raises(InputError, match="empty file"):
        read_all(tmp_path / "empty.mp4")
    with pytest.raises(InputError, match="not a video file FFmpeg can read"):
        read_all(tmp_path / "text.mp4")
    with pytest.raises(InputError, match="is a directory"):
        read_all(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.m4a"
    write_audio_only(path)
    with pytest.raises(InputError, match="no video stream \\(streams: audio\\)"):
        read_all(path)


def test_unknown_codec(tmp_path):
    clip = write_clip(tmp_path / "a.avi", codec="mpeg4", frames=2)
    data = clip.read_bytes()
    assert b"FMP4" in data
    clip.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    with pytest.raises(InputError, match="codec this FFmpeg cannot decode"):
        read_all(clip)


def test_header_only_y4m_has_no_frames(tmp_path):
    clip = tmp_path / "zero.y4m"
    clip.write_bytes(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420jpeg\n")
    _, items = read_all(clip)
    assert items == []


def write_cover_art_mp3(path):
    """An MP3 with an embedded cover picture: a video stream to FFmpeg (attached_pic), no video."""
    import numpy as np

    with av.open(str(path), "w") as out:
        sound = out.add_stream("libmp3lame" if "libmp3lame" in av.codecs_available else "mp3", rate=44100)
        sound.layout = "mono"
        cover = out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 16, 16, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24").reformat(format="yuvj420p")
        for packet in cover.encode(picture) + cover.encode(None):
            out.mux(packet)
        fmt = sound.codec_context.format.name
        dtype = {"s16": np.int16, "s32": np.int32, "flt": np.float32}[fmt.rstrip("p")]
        samples = np.zeros((1, 1152 * 8), dtype)
        frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        frame.sample_rate = 44100
        for packet in sound.encode(frame) + sound.encode(None):
            out.mux(packet)
    return path


def test_cover_art_is_named_as_such_not_as_a_video_stream(tmp_path):
    path = write_cover_art_mp3(tmp_path / "song.mp3")
    with pytest.raises(InputError, match=r"song.mp3: no video stream \(streams: audio, cover picture\)$"):
        read_all(path)


@pytest.mark.parametrize("header", [b"YUV4MPEG2 W32 Hxx F25:1\n", b"YUV4MPEG2 W0 H24 F25:1\n"])
def test_bad_y4m_header_says_so(tmp_path, header):
    path = tmp_path / "bad.y4m"
    path.write_bytes(header + b"FRAME\n" + bytes(1200))
    with pytest.raises(InputError) as info:
        read_all(path)
    message = str(info.value)
    assert message.startswith(f"{path}: bad y4m header (") and "busy" not in message.lower()


def damaged_h264(tmp_path):
    """A 40-frame H.264 clip with six bytes of its pictures flipped: it decodes to the end (the
    decoder conceals what it cannot read), the kind of damage that passed without a word."""
    import numpy as np

    clip = write_clip(tmp_path / "clean.mp4", frames=40, width=160, height=120)
    data = clip.read_bytes()
    start = data.find(b"mdat") + 2000
    for seed in range(20):
        damaged = bytearray(data)
        for offset in np.random.default_rng(seed).integers(start, len(data) - 2000, 6):
            damaged[offset] ^= 0x55
        path = tmp_path / f"damaged{seed}.mp4"
        path.write_bytes(bytes(damaged))
        try:
            read_all(path)
        except InputError:
            continue  # damage the decoder refuses outright: not the case under test
        return clip, path
    pytest.skip("no light damage found that the decoder goes through")


def test_frames_with_decode_errors_are_counted(tmp_path):
    clean, damaged = damaged_h264(tmp_path)
    assert read_all(clean)[0].frames_damaged == 0
    reader, items = read_all(damaged)
    assert 0 < reader.frames_damaged <= len(items)
