"""Which torch device a run uses: `auto` is CUDA when one is visible, else the CPU."""
from __future__ import annotations

import torch

from .errors import GanforgeError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"--device {name} asked for, but no CUDA GPU is visible; use --device cpu")
    return torch.device(name)
