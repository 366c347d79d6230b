"""What a model needs around a pixel and per pixel: its receptive radius and activation memory.

Read off the model's layers (torch); the runners only need the two numbers, which is why a graph
cached on disk records them beside itself (:mod:`.graph_card`) and a run from that graph needs no
torch at all.
"""
from __future__ import annotations

import torch.nn as nn

from ..errors import ConfigError


def receptive_radius(model: nn.Module) -> int:
    """LR pixels of context an output pixel depends on, on each side (ESPCN: 2 + 1 + 1 = 4).

    A model may state it as a ``receptive_radius`` attribute; otherwise it is the sum of the
    half-widths of all stride-1 convolutions, exact for a chain (ESPCN) and an upper bound for
    parallel branches or convolutions after the upsampler (MSRN), which only costs margin.
    """
    stated = getattr(model, "receptive_radius", None)
    if stated is not None:
        return int(stated)
    radius = 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            if any(s != 1 for s in module.stride):
                raise ConfigError(f"{type(module).__name__} with stride {module.stride}: state the model's receptive_radius")
            radius += max(((k - 1) * d + 1) // 2 for k, d in zip(module.kernel_size, module.dilation))
    return radius


def activation_bytes_per_pixel(model: nn.Module, itemsize: int = 4) -> int:
    """A generous estimate of the activation memory one LR pixel needs while the model runs.

    Twice the widest convolution's input plus output channels: what is alive around the widest
    layer, with room for the allocator and the runtime's own copies.
    """
    widest = max((m.in_channels + m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)), default=1)
    return 2 * widest * itemsize
