"""Name -> model class registry. Models register themselves where they are defined."""
from __future__ import annotations

import inspect
import math
from typing import Callable

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

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


# What a config may ask for: each integer setting (a width, a block count) and the whole model's
# parameters. The largest shipped architecture (MSRN) has 6 M parameters; a header that asks for
# 100000-wide layers is refused here instead of allocating hundreds of gigabytes.
MAX_SETTING = 1024
MAX_PARAMETERS = 64_000_000


def _check_setting(name: str, key: str, value, default) -> None:
    """``value`` must have the kind of ``default`` (the architecture's own default for ``key``)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        kind = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SETTING
        kind = f"an integer from 1 to {MAX_SETTING}"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        kind = "a finite number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        kind = "a string"
    elif isinstance(default, (tuple, list)):
        ok = isinstance(value, (tuple, list)) and len(value) == len(default)
        kind = f"a list of {len(default)}"
        if ok:
            for item, item_default in zip(value, default):
                _check_setting(name, key, item, item_default)
    else:
        return  # a setting without a plain default: the architecture checks it
    if not ok:
        raise ConfigError(f"{name}: {key} must be {kind}, not {value!r}")


def check_config(name: str, scale: int, config: dict) -> type[nn.Module]:
    """The model class for ``name``, after checking ``scale`` and ``config`` (names and kinds of values)."""
    try:
        cls = _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
    if isinstance(scale, bool) or not isinstance(scale, int) or scale not in cls.scales:
        raise ConfigError(f"{name} supports scales {', '.join(map(str, cls.scales))}, not {scale}")
    parameters = inspect.signature(cls).parameters
    if "scale" in config:
        raise ConfigError(f"{name}: scale is given on its own, not as an architecture setting")
    unknown = sorted(set(config) - set(parameters))
    if unknown:
        raise ConfigError(f"{name} has no setting {', '.join(unknown)}")
    for key, value in config.items():
        _check_setting(name, key, value, parameters[key].default)
    return cls


class _NoInitOnMeta(TorchFunctionMode):
    """Skips weight initialisation while a model is built on the meta device.

    Meta tensors hold no values, so initialising them computes nothing, but the first random fill
    of a meta tensor makes torch load its meta kernels: 1.3-2.5 s of every `vsr` start-up on a
    2-core machine, for a size check. Scoped to the ``with`` block (a torch function mode), so
    nothing else changes.
    """

    _INITS = tuple(getattr(nn.init, n) for n in ("normal_", "uniform_", "zeros_", "ones_", "constant_", "trunc_normal_",
                                                  "kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_"))
    _METHODS = (torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.zero_, torch.Tensor.fill_)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._INITS or func in self._METHODS:
            tensor = args[0] if args else kwargs.get("tensor")
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


def _sized(name: str, scale: int, config: dict) -> nn.Module:
    """``name`` built on the meta device (shapes, no memory), refused past :data:`MAX_PARAMETERS`."""
    cls = check_config(name, scale, config)
    try:
        with torch.device("meta"), _NoInitOnMeta():
            model = cls(scale=scale, **config)
    except (ValueError, TypeError) as error:  # a setting's value the architecture refuses
        raise ConfigError(f"{name}: {error}") from None
    parameters = sum(p.numel() for p in model.parameters())
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"{name}: this config asks for {parameters:,} parameters; at most {MAX_PARAMETERS:,} are allowed")
    return model


def create_meta_model(name: str, scale: int, config: dict) -> nn.Module:
    """``name`` with its tensors' shapes but no memory (``meta`` device): to check a weights file
    against the model it describes before building it."""
    return _sized(name, scale, config)


def create_model(name: str, scale: int, **config) -> nn.Module:
    """Build an untrained model by name; ``config`` holds the architecture's own arguments.

    Every build is sized on the meta device first, so a config that asks for more than
    :data:`MAX_PARAMETERS` is refused before anything is allocated.
    """
    cls = type(_sized(name, scale, config))
    try:
        return cls(scale=scale, **config)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{name}: {error}") from None
