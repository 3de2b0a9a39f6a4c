"""Datasets by name or path. Everything becomes a `Dataset`: float32 tensors in [-1, 1]."""
from .base import Dataset, load_dataset, BUILTIN_NAMES

__all__ = ["Dataset", "load_dataset", "BUILTIN_NAMES"]
