"""Validation during training: Y-PSNR of the model on whole images, published protocol."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..imaging.luma import y8_from_model, y8_to_model
from ..imaging.metrics import psnr_y
from .data import LumaPair


@torch.no_grad()
def validate_psnr(model: nn.Module, pairs: list[LumaPair], scale: int, device: str = "cpu") -> float:
    """Mean Y-PSNR (dB, ``scale`` pixels shaved) of ``model`` over ``pairs``."""
    was_training = model.training
    model.eval()
    scores = []
    for pair in pairs:
        lr = torch.from_numpy(y8_to_model(pair.lr))[None, None].to(device)
        sr = model(lr)[0, 0].float().cpu().numpy()
        scores.append(psnr_y(y8_from_model(sr), pair.hr, shave=scale))
    model.train(was_training)
    return float(np.mean(scores))
