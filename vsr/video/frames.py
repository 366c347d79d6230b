"""Decoded frames <-> numpy planes, in the sample layouts vsr works in.

vsr works on planar YCbCr (4:2:0, 4:2:2, 4:4:4) or grey, 8 to 16 bits, because the model sees
only luma. Other layouts of the same samples (NV12, P010, YUYV, big-endian) are repacked by
swscale without loss; RGB-family frames are converted to YCbCr 4:4:4 here, with the stream's own
matrix (BT.601 or BT.709), so that the output is tagged with the matrix that was really used.

Sample values travel as float32 *normalised* code values: ``code / scale``, where ``scale`` is
``255 << (bits - 8)`` for limited ("TV") range and ``2**bits - 1`` for full range. These are the
definitions of ITU-T H.273 (VideoFullRangeFlag), so an 8-bit and a 10-bit picture of the same
colour give the same floats, and converting between bit depths is exact. How these floats become
the model's input and back is :mod:`vsr.imaging.luma`'s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import av
import numpy as np

from ..errors import InputError
from ..imaging.color import rgb_to_ycbcr

# Subsampling (log2 horizontal, log2 vertical) -> FFmpeg name stem.
_STEMS = {(1, 1): "yuv420p", (1, 0): "yuv422p", (0, 0): "yuv444p"}
_SHIFTS = {stem: shift for shift, stem in _STEMS.items()}
_PLANAR_NAME = re.compile(r"(gray|yuv420p|yuv422p|yuv444p)(?:(\d+)le)?")

# FFmpeg colour enums (AVColorSpace / AVColorRange) that matter here.
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2
SPACE_RGB, SPACE_BT709, SPACE_UNSPECIFIED, SPACE_BT470BG, SPACE_SMPTE170M = 0, 1, 2, 5, 6


@dataclass(frozen=True)
class PixelLayout:
    """Planar samples as vsr holds them: bit depth, chroma subsampling and range.

    ``chroma_shift`` is (log2 horizontal, log2 vertical) subsampling, e.g. (1, 1) for 4:2:0,
    or None for grey (no chroma planes).
    """

    bits: int
    chroma_shift: tuple[int, int] | None
    full_range: bool = False

    @property
    def is_grey(self) -> bool:
        return self.chroma_shift is None

    @property
    def pix_fmt(self) -> str:
        stem = "gray" if self.is_grey else _STEMS[self.chroma_shift]
        return stem if self.bits == 8 else f"{stem}{self.bits}le"

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bits == 8 else np.dtype("<u2")

    @property
    def peak(self) -> int:
        """Largest code value."""
        return (1 << self.bits) - 1

    @property
    def scale(self) -> float:
        """Code value of normalised 1.0 (H.273: limited range scales 8-bit codes, full range spans all)."""
        return float(self.peak) if self.full_range else float(255 << (self.bits - 8))

    @property
    def chroma_neutral(self) -> int:
        """Code value of zero colour difference (128 at 8 bits)."""
        return 1 << (self.bits - 1)

    def chroma_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of a chroma plane for a picture of ``width`` x ``height`` (rounded up)."""
        sx, sy = self.chroma_shift or (0, 0)
        return -(-width >> sx), -(-height >> sy)

    @classmethod
    def from_pix_fmt(cls, name: str, full_range: bool = False) -> "PixelLayout | None":
        """The layout of a planar YCbCr/grey little-endian FFmpeg format name; None for any other."""
        match = _PLANAR_NAME.fullmatch(name)
        if not match:
            return None
        stem, bits = match.group(1), int(match.group(2) or 8)
        if not 8 <= bits <= 16 or (bits == 8 and match.group(2)):
            return None
        return cls(bits, None if stem == "gray" else _SHIFTS[stem], full_range)


@dataclass(frozen=True)
class InputPlan:
    """How the decoder's frames become vsr planes, decided once from the first frame.

    ``reformat_to``: a lossless swscale repack to a planar format first (NV12 -> yuv420p, ...).
    ``rgb_read``: for RGB-family frames, the packed RGB format to read them as; ``rgb_matrix`` is
    then the YCbCr matrix used ("bt601" or "bt709") and ``colorspace`` the tag the output carries.
    """

    source_pix_fmt: str
    layout: PixelLayout
    reformat_to: str | None = None
    rgb_read: str | None = None
    rgb_matrix: str | None = None
    colorspace: int = SPACE_UNSPECIFIED
    color_range: int = RANGE_UNSPECIFIED


def _unsupported(name: str, why: str) -> InputError:
    return InputError(f"pixel format {name} is not supported ({why}); vsr reads 8-16 bit YCbCr 4:2:0/4:2:2/4:4:4, grey and RGB")


def plan_input(frame: av.VideoFrame, source: str = "input") -> InputPlan:
    """Decide how to read frames like ``frame`` (the stream's first); InputError if vsr cannot."""
    fmt = frame.format
    name = fmt.name
    components = fmt.components
    prefix = f"{source}: "
    if not components or name in ("cuda", "vaapi", "qsv", "videotoolbox", "d3d11", "dxva2_vld", "vulkan", "drm_prime"):
        raise InputError(prefix + str(_unsupported(name, "a hardware surface format")))
    if fmt.is_bayer:
        raise InputError(prefix + str(_unsupported(name, "raw Bayer sensor data")))
    if any(c.is_alpha for c in components):
        raise InputError(prefix + str(_unsupported(name, "it has an alpha channel, which vsr's video path does not carry")))
    if "f16" in name or "f32" in name or name.startswith("xyz"):
        raise InputError(prefix + str(_unsupported(name, "floating-point or XYZ samples")))
    bits = max(c.bits for c in components)
    if bits > 16:
        raise InputError(prefix + str(_unsupported(name, f"{bits}-bit samples")))
    range_tag = frame.color_range

    if fmt.is_rgb or fmt.has_palette:
        # The stream's own matrix when it names one; otherwise the convention players use for
        # untagged video (BT.709 for HD, BT.601 for SD). The output is tagged with it either way.
        space = frame.colorspace
        if space == SPACE_BT709:
            matrix = "bt709"
        elif space in (SPACE_BT470BG, SPACE_SMPTE170M):
            matrix = "bt601"
        else:
            matrix = "bt709" if frame.height > 576 else "bt601"
        out_bits = 8 if bits <= 8 else bits
        return InputPlan(
            source_pix_fmt=name,
            layout=PixelLayout(out_bits, (0, 0), full_range=False),
            rgb_read="rgb24" if bits <= 8 else "rgb48le",
            rgb_matrix=matrix,
            colorspace=SPACE_BT709 if matrix == "bt709" else SPACE_SMPTE170M,
            color_range=RANGE_LIMITED,
        )

    full = name.startswith("yuvj") or range_tag == RANGE_FULL
    if len(components) == 1:
        layout = PixelLayout(max(bits, 8), None, full)
    elif len(components) == 3:
        probe = 64
        shift = ((probe // fmt.chroma_width(probe)).bit_length() - 1, (probe // fmt.chroma_height(probe)).bit_length() - 1)
        # 4:1:1, 4:1:0 and 4:4:0 are rare; they are interpolated to 4:4:4 rather than refused.
        layout = PixelLayout(max(bits, 8), shift if shift in _STEMS else (0, 0), full)
    else:
        raise InputError(prefix + str(_unsupported(name, "an unknown sample layout")))
    native = name in (layout.pix_fmt, layout.pix_fmt.replace("yuv", "yuvj", 1)) and (fmt.is_planar or layout.is_grey)
    return InputPlan(
        source_pix_fmt=name,
        layout=layout,
        reformat_to=None if native else layout.pix_fmt,
        colorspace=frame.colorspace,
        color_range=RANGE_FULL if full else range_tag,
    )


# Colour primaries and transfer tags (FFmpeg's AVColorPrimaries / AVColorTransferCharacteristic).
PRI_BT709, PRI_UNSPECIFIED, PRI_BT470BG, PRI_SMPTE170M = 1, 2, 5, 6
TRC_BT709, TRC_UNSPECIFIED, TRC_SMPTE170M = 1, 2, 6
_UNSPECIFIED = 2


def output_tags(frame: av.VideoFrame, plan: InputPlan) -> tuple[int, int, int, int]:
    """(primaries, transfer, matrix, range) the output is tagged with: the input's where it names
    them; for an untagged input, what vsr (and players) assumed reading it: BT.709 above 576 lines,
    BT.601 at and below (PAL primaries at 576 lines, SMPTE 170M below), limited range unless the
    format is full-range. Written out because the output is larger: left untagged, a 720p output
    of an SD input would be taken for BT.709 by players and its colours would shift."""
    hd = frame.height > 576
    primaries = frame.color_primaries
    if primaries == PRI_UNSPECIFIED:
        primaries = PRI_BT709 if hd else (PRI_BT470BG if frame.height == 576 else PRI_SMPTE170M)
    trc = frame.color_trc
    if trc == TRC_UNSPECIFIED:
        trc = TRC_BT709 if hd else TRC_SMPTE170M
    space = plan.colorspace
    if space == SPACE_UNSPECIFIED and plan.layout.pix_fmt.startswith("yuv"):
        space = SPACE_BT709 if hd else SPACE_SMPTE170M
    color_range = plan.color_range if plan.color_range != RANGE_UNSPECIFIED else RANGE_LIMITED
    return primaries, trc, space, color_range


def _plane_view(plane, dtype: np.dtype) -> np.ndarray:
    """A (height, width) numpy view of one plane, without the line padding."""
    rows = np.frombuffer(plane, dtype=dtype)
    return rows.reshape(plane.height, plane.line_size // dtype.itemsize)[:, : plane.width]


def read_planes(frame: av.VideoFrame, plan: InputPlan) -> tuple[np.ndarray, np.ndarray | None]:
    """Normalised float32 luma (H, W) and chroma (2, Hc, Wc) (None for grey) of one decoded frame."""
    # threads=1: swscale's threaded conversion (FFmpeg 8, PyAV 18) intermittently loses a whole
    # chroma row when unpacking P010; single-threaded it is exact, and these repacks are cheap.
    if plan.rgb_read:
        rgb = frame.to_ndarray(format=plan.rgb_read, threads=1)
        rgb01 = rgb.astype(np.float32)
        rgb01 *= np.float32(1.0 / (255.0 if plan.rgb_read == "rgb24" else 65535.0))
        ycc = rgb_to_ycbcr(rgb01, plan.rgb_matrix, full_range=False)  # code/255 = normalised, limited range
        return np.ascontiguousarray(ycc[:, :, 0]), np.ascontiguousarray(ycc[:, :, 1:].transpose(2, 0, 1))
    if plan.reformat_to:
        frame = frame.reformat(format=plan.reformat_to, threads=1)
    layout = plan.layout
    inv = np.float32(1.0 / layout.scale)
    luma_view = _plane_view(frame.planes[0], layout.dtype)
    luma = np.multiply(luma_view, inv, dtype=np.float32)
    if layout.is_grey:
        return luma, None
    cb, cr = (_plane_view(p, layout.dtype) for p in frame.planes[1:3])
    chroma = np.empty((2, *cb.shape), np.float32)
    np.multiply(cb, inv, out=chroma[0])
    np.multiply(cr, inv, out=chroma[1])
    return luma, chroma


def read_codes(frame: av.VideoFrame, plan: InputPlan) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer code planes of one decoded planar frame (not RGB: see :func:`read_planes`): (H, W)
    luma and (2, Hc, Wc) chroma (None for grey), copied out of the frame, for the frame chain."""
    if plan.rgb_read:
        raise ValueError("RGB frames become YCbCr floats: use read_planes")
    if plan.reformat_to:
        frame = frame.reformat(format=plan.reformat_to, threads=1)  # threads=1: see read_planes
    layout = plan.layout
    luma = np.ascontiguousarray(_plane_view(frame.planes[0], layout.dtype))
    if layout.is_grey:
        return luma, None
    return luma, np.stack([_plane_view(p, layout.dtype) for p in frame.planes[1:3]])


def planes_from_codes(luma: np.ndarray, chroma: np.ndarray | None, layout: PixelLayout) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_codes`' planes as :func:`read_planes` gives them: the same float32 values."""
    inv = np.float32(1.0 / layout.scale)
    floats = np.multiply(luma, inv, dtype=np.float32)
    if chroma is None:
        return floats, None
    return floats, np.multiply(chroma, inv, dtype=np.float32)


def _quantise_into(view: np.ndarray, values: np.ndarray, layout: PixelLayout) -> None:
    """Round normalised floats to code values of ``layout`` and store them in a plane view."""
    codes = values * np.float32(layout.scale)
    np.rint(codes, out=codes)
    np.clip(codes, 0, layout.peak, out=codes)
    view[...] = codes


def make_frame(luma: np.ndarray, chroma: np.ndarray | None, layout: PixelLayout) -> av.VideoFrame:
    """A new VideoFrame in ``layout`` from normalised float planes (chroma None: neutral grey chroma)."""
    height, width = luma.shape
    frame = av.VideoFrame(width, height, layout.pix_fmt)
    planes = frame.planes
    _quantise_into(_plane_view(planes[0], layout.dtype), luma, layout)
    if not layout.is_grey:
        for index in (1, 2):
            view = _plane_view(planes[index], layout.dtype)
            if chroma is None:
                view[...] = layout.chroma_neutral
            else:
                _quantise_into(view, chroma[index - 1], layout)
    return frame


def frame_from_codes(luma: np.ndarray, chroma: np.ndarray | None, layout: PixelLayout) -> av.VideoFrame:
    """A new VideoFrame in ``layout`` from integer code planes already rounded (the frame chain's
    output, :mod:`vsr.video.frame_chain`): (H, W) luma, (2, Hc, Wc) chroma or None (neutral)."""
    height, width = luma.shape
    frame = av.VideoFrame(width, height, layout.pix_fmt)
    planes = frame.planes
    _plane_view(planes[0], layout.dtype)[...] = luma
    if not layout.is_grey:
        for index in (1, 2):
            view = _plane_view(planes[index], layout.dtype)
            view[...] = layout.chroma_neutral if chroma is None else chroma[index - 1]
    return frame


def _side_data_of(frame: av.VideoFrame):
    """The frame's side data entries. PyAV up to 18.1.0 iterates ``frame.side_data`` by its entries;
    18.1.1 made it a true mapping, which iterates by its keys (the entries' types)."""
    container = frame.side_data
    for item in container:
        yield item if hasattr(item, "type") else container[item]


def display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's display matrix (rotation, flip) as 9 integers, or None when it is the identity."""
    for side_data in _side_data_of(frame):
        if side_data.type.name == "DISPLAYMATRIX":
            matrix = tuple(np.frombuffer(bytes(side_data), dtype="<i4").tolist())
            identity = (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)
            return None if matrix == identity else matrix
    return None
