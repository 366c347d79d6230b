"""Training and validation of the SR models (``vsr train``)."""
from .trainer import TrainConfig, train

__all__ = ["TrainConfig", "train"]
