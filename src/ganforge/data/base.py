"""The Dataset type, the name/path registry, and the resumable batch streams the loop draws from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..io.errors import GanforgeError


@dataclass
class Dataset:
    """Real data in model space: points (N, D) or images (N, C, H, W), values in [-1, 1].

    `sampler`, when set, draws fresh points from a known distribution (the 2D mixtures) instead
    of iterating over `x`; `x` then holds a fixed reference draw for evaluation.
    """
    name: str
    kind: str                                  # "points" | "images"
    x: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    sampler: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None
    info: dict = field(default_factory=dict)   # e.g. mixture means/sd, resize policy

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def meta(self) -> dict:
        """What a generator needs to know about the data, stored with every run (JSON)."""
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "count": len(self.x) if self.sampler is None else None,  # None: drawn fresh
                "class_names": self.class_names, "info": self.info}

    def stream(self, batch_size: int, seed: int) -> "BatchStream":
        if self.sampler is not None:
            return SamplerStream(self.sampler, batch_size, seed)
        return ShuffledStream(self.x, self.labels, batch_size, seed)


class ShuffledStream:
    """Epochs of a seeded permutation; state is (epoch, position), so resume is exact."""

    def __init__(self, x, labels, batch_size, seed):
        if len(x) < batch_size:
            raise GanforgeError(f"the dataset has {len(x)} examples, fewer than --batch-size "
                                f"{batch_size}; lower --batch-size or add data")
        self.x, self.labels, self.batch_size, self.seed = x, labels, batch_size, seed
        self.epoch, self.pos = 0, 0
        self._perm = self._permutation()

    def _permutation(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.x), generator=g)

    def next(self):
        if self.pos + self.batch_size > len(self.x):  # drop the ragged tail: equal batches
            self.epoch, self.pos = self.epoch + 1, 0
            self._perm = self._permutation()
        idx = self._perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        # index_select copies whole rows; x[idx] gathers element by element (7x slower measured
        # for 128 rows of 784: 13 vs 89 us, a visible share of a small net's step)
        y = self.labels.index_select(0, idx) if self.labels is not None else None
        return self.x.index_select(0, idx), y

    def state_dict(self):
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, s):
        self.epoch, self.pos = int(s["epoch"]), int(s["pos"])
        self._perm = self._permutation()


class SamplerStream:
    """Fresh draws from a distribution with its own generator, whose state is checkpointed."""

    def __init__(self, sampler, batch_size, seed):
        self.sampler, self.batch_size = sampler, batch_size
        self.gen = torch.Generator().manual_seed(seed + 7919)

    def next(self):
        return self.sampler(self.batch_size, self.gen)

    def state_dict(self):
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, s):
        self.gen.set_state(s["generator"])


BatchStream = ShuffledStream | SamplerStream
