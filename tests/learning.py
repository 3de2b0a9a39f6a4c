"""Learning tests compare a trained model with its own starting point (the same nets, same
seed, before the first step) on held-out data. `KeepStart` is the Trainer callback that keeps
that starting point; `UNTRAINED=1` makes every such test score the starting point in place of
the trained model, which must make it fail (how the tests were checked to be able to fail)."""
from __future__ import annotations

import copy
import os

import numpy as np
import torch

import ganforge

UNTRAINED = os.environ.get("GANFORGE_TEST_UNTRAINED") == "1"


class KeepStart:
    """Trainer callback: the state of every net before the first training step."""

    def __init__(self):
        self.state: dict[str, dict] = {}

    def start(self, trainer):
        self.state = {k: copy.deepcopy(n.state_dict()) for k, n in trainer.family.nets.items()}

    def __call__(self, trainer, record):
        pass

    def models(self, run_dir, net: str = "G"):
        """(trained, starting point) model objects of a run, as `ganforge.load` gives them."""
        trained, start = ganforge.load(run_dir), ganforge.load(run_dir)
        start.net.load_state_dict(self.state[net])
        return (start if UNTRAINED else trained), start


def energy_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Energy distance between two point sets (0 iff the distributions match)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())
