"""MSRN: Li et al., "Multi-scale Residual Network for Image Super-Resolution", ECCV 2018,
following the authors' PyTorch implementation (MSRN-PyTorch, ``model/msrn.py``), on one luma channel."""
from __future__ import annotations

import torch
import torch.nn as nn

from .registry import register_model


def _conv(in_ch: int, out_ch: int, kernel_size: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2)


class MultiScaleResidualBlock(nn.Module):
    """MSRB: parallel 3x3 and 5x5 branches, crossed once, fused by a 1x1 conv, plus the input."""

    def __init__(self, features: int):
        super().__init__()
        self.conv_3_1 = _conv(features, features, 3)
        self.conv_5_1 = _conv(features, features, 5)
        self.conv_3_2 = _conv(features * 2, features * 2, 3)
        self.conv_5_2 = _conv(features * 2, features * 2, 5)
        self.confusion = nn.Conv2d(features * 4, features, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = torch.cat([self.relu(self.conv_3_1(x)), self.relu(self.conv_5_1(x))], dim=1)
        s2 = torch.cat([self.relu(self.conv_3_2(s1)), self.relu(self.conv_5_2(s1))], dim=1)
        return self.confusion(s2) + x


def _upsampler(features: int, scale: int) -> nn.Sequential:
    """Sub-pixel upsampling as in EDSR/MSRN: ×2 steps for 2 and 4, one ×3 step for 3."""
    steps = {2: [2], 3: [3], 4: [2, 2]}[scale]
    layers: list[nn.Module] = []
    for r in steps:
        layers += [_conv(features, features * r * r, 3), nn.PixelShuffle(r)]
    return nn.Sequential(*layers)


@register_model("msrn")
class MSRN(nn.Module):
    """Multi-scale residual network.

    Args:
        scale: upscaling factor (2, 3 or 4).
        blocks: number of multi-scale residual blocks (8 in the paper).
        features: channel width (64 in the paper).
        luma_mean: constant subtracted from the input and added back to the output (the reference
            subtracts the dataset's RGB mean; for Y alone one constant does the same job).

    Input and output: one luma channel in [0, 1], (N, 1, H, W) -> (N, 1, sH, sW).
    """

    scales = (2, 3, 4)

    def __init__(self, scale: int, blocks: int = 8, features: int = 64, luma_mean: float = 0.44):
        super().__init__()
        if blocks < 1:
            raise ValueError("MSRN needs at least one block")
        self.scale = scale
        self.config = {"blocks": blocks, "features": features, "luma_mean": luma_mean}
        self.luma_mean = luma_mean
        self.head = _conv(1, features, 3)
        self.body = nn.ModuleList(MultiScaleResidualBlock(features) for _ in range(blocks))
        # Hierarchical feature fusion: every block's output and the head's, 1x1 then 3x3.
        self.fusion = nn.Sequential(nn.Conv2d(features * (blocks + 1), features, 1), _conv(features, features, 3))
        self.upsample = _upsampler(features, scale)
        self.reconstruct = _conv(features, 1, 3)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        x = self.head(y - self.luma_mean)
        outputs = []
        h = x
        for block in self.body:
            h = block(h)
            outputs.append(h)
        outputs.append(x)
        h = self.upsample(self.fusion(torch.cat(outputs, dim=1)))
        # The one-channel output layer and the mean add run in the weights' own dtype even under
        # autocast: in bf16 (8 significant bits, about one grey level) they would cap the PSNR.
        with torch.autocast(device_type=h.device.type, enabled=False):
            return self.reconstruct(h.to(self.reconstruct.weight.dtype)) + self.luma_mean
