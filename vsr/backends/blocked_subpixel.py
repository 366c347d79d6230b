"""ESPCN's sub-pixel layer rewritten for CPU runtimes that compute output channels 8 at a time.

ONNX Runtime's x86 convolutions work on blocks of 8 channels (its NCHWc layout). ESPCN x2 ends
in a 3x3 convolution with only r*r = 4 output channels: padded to a block, it runs at a quarter of
the CPU's peak and costs as much as the whole first layer (``bench/profile_onnxruntime.py``).

The rewrite makes that layer compute a 2x2 block of LR pixels per output position instead of one:
a 4x4 convolution of stride 2 with 2*2*r*r = 16 output channels (two full blocks), whose weights
are the original 3x3 kernel placed at the four offsets, followed by one pixel shuffle of 2r. The
sums are the same products as the original's (plus exact zeros), so the output equals the
original model's to float rounding, at every size: an odd height or width gets one more block
from the asymmetric end padding and the extra row or column is cut off. ESPCN x2 on 352x288:
the last stage (convolution, pixel shuffle, reorder) drops from about 5.6 ms to 3.0 ms.

The module below is for export only: PyTorch convolutions pad symmetrically, so the ONNX graph's
padding is set to (top 1, left 1, bottom 2, right 2) after export by :func:`pad_blocked_conv`. For
ESPCN with ``border="replicate"`` (valid convolutions after an edge pad) the features are already
one pixel wider on each side, and the padding is (0, 0, 1, 1): the end row and column only give an
odd size its last block, which is cut off.
"""
from __future__ import annotations

import torch
import torch.nn as nn

BLOCK = 2  # LR pixels per side computed by one position of the rewritten convolution
GRAPH_TAG = "blocked-subpixel-v1"  # part of the ONNX cache key when the rewrite is applied


def can_block(model: nn.Module) -> bool:
    """True for models the rewrite helps: ESPCN-shaped (feature maps, 3x3 sub-pixel conv, pixel
    shuffle) with fewer than 8 sub-pixel channels (x2). At x3 and x4 the layer already fills
    blocks well enough (``bench/profile_onnxruntime.py``: 124 and 196 GFLOP/s)."""
    conv = getattr(model, "sub_pixel", None)
    return (
        isinstance(conv, nn.Conv2d)
        and isinstance(getattr(model, "pixel_shuffle", None), nn.PixelShuffle)
        and hasattr(model, "feature_maps")
        and conv.kernel_size == (3, 3)
        and conv.padding in ((1, 1), (0, 0))
        and conv.out_channels == model.scale * model.scale
        and conv.out_channels < 8
    )


class BlockedSubPixel(nn.Module):
    """``model`` with its sub-pixel convolution computing BLOCK x BLOCK LR pixels per position."""

    def __init__(self, model: nn.Module):
        super().__init__()
        if not can_block(model):
            raise ValueError("the blocked sub-pixel rewrite needs an ESPCN-shaped model with < 8 sub-pixel channels")
        r, b = model.scale, BLOCK
        conv = model.sub_pixel
        self.scale = r
        self.extend = getattr(model, "extend", nn.Identity())
        self.feature_maps = model.feature_maps
        self.blocked = nn.Conv2d(conv.in_channels, b * b * r * r, kernel_size=2 + b, stride=b, padding=conv.padding)
        weight = torch.zeros_like(self.blocked.weight)
        bias = torch.zeros_like(self.blocked.bias)
        with torch.no_grad():
            for i in range(b):  # LR row offset inside the block
                for j in range(b):  # LR column offset
                    for p in range(r):  # sub-pixel row
                        for q in range(r):  # sub-pixel column
                            # Pixel shuffle of b*r puts channel (dy * b*r + dx) at HR offset (dy, dx).
                            channel = (i * r + p) * b * r + (j * r + q)
                            weight[channel, :, i : i + 3, j : j + 3] = conv.weight[p * r + q]
                            bias[channel] = conv.bias[p * r + q]
            self.blocked.weight.copy_(weight)
            self.blocked.bias.copy_(bias)
        self.shuffle = nn.PixelShuffle(b * r)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        height, width = y.shape[-2:]
        out = self.shuffle(self.blocked(self.feature_maps(self.extend(y))))
        return out[..., : self.scale * height, : self.scale * width]


def pad_blocked_conv(graph_bytes: bytes) -> bytes:
    """Give the exported graph's blocked convolution its asymmetric padding.

    With a 4-wide kernel of stride 2, one more pixel of end padding than of start padding yields
    ceil(n / 2) blocks for odd and even n alike: (1, 1, 2, 2) where the original layer padded
    with zeros, so every real pixel sees the same zero border; (0, 0, 1, 1) where it was valid.
    """
    import onnx

    graph = onnx.load_from_string(graph_bytes)
    last_conv = [node for node in graph.graph.node if node.op_type == "Conv"][-1]
    for attribute in last_conv.attribute:
        if attribute.name == "pads":
            start = attribute.ints[0]
            attribute.ints[:] = [start, start, start + 1, start + 1]
            break
    else:
        raise ValueError("exported blocked convolution has no pads attribute")
    return graph.SerializeToString()
