"""Datasets by name or path. Everything becomes a `Dataset`: float32 tensors in [-1, 1]."""
from .base import Dataset
from .load import load_dataset
from .registry import DATASETS

__all__ = ["Dataset", "load_dataset", "DATASETS"]
