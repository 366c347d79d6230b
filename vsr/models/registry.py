"""Name -> model class registry. Models register themselves where they are defined."""
from __future__ import annotations

import inspect
from typing import Callable

import torch.nn as nn

from ..errors import ConfigError

_MODELS: dict[str, type[nn.Module]] = {}


def register_model(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a model constructible by ``create_model(name, scale=...)``."""

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = cls
        cls.registry_name = name
        return cls

    return decorate


def list_models() -> list[str]:
    """Names of the registered models."""
    return sorted(_MODELS)


def create_model(name: str, scale: int, **config) -> nn.Module:
    """Build an untrained model by name; ``config`` holds the architecture's own arguments."""
    try:
        cls = _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
    if scale not in cls.scales:
        raise ConfigError(f"{name} supports scales {', '.join(map(str, cls.scales))}, not {scale}")
    unknown = sorted(set(config) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ConfigError(f"{name} has no setting {', '.join(unknown)}")
    try:
        return cls(scale=scale, **config)
    except ValueError as error:  # a setting's value the architecture refuses
        raise ConfigError(f"{name}: {error}") from None
