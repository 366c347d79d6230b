"""Super-resolution models on one luma channel, found by name.

The registry is filled by importing each known model module here, by name.
"""
from . import espcn, msrn  # noqa: F401  (registers "espcn" and "msrn")
from ..shipped import find_shipped, manifest
from .pretrained import load_model
from .registry import create_model, list_models

__all__ = ["create_model", "list_models", "load_model", "find_shipped", "manifest"]
