"""The table as a ganforge Dataset, and training-by-sampling (Xu et al. 2019).

Each training row is drawn by first picking a discrete column uniformly, then one of its
categories with probability proportional to log(1 + count) — so rare categories are seen far
more often than their share — then a real row that has it. The conditional vector is the
one-hot of that (column, category) pair; G must reproduce it (cross-entropy in the family).
"""
from __future__ import annotations

import torch

from ..io.errors import GanforgeError
from .base import Dataset, ShuffledStream


def cond_layout(transformer) -> list[dict]:
    """Per discrete column: its block in the data matrix and in the conditional vector."""
    blocks = {b["column"]: b for b in transformer.blocks() if b["part"] == "category"}
    out, pos = [], 0
    for c in transformer.discrete_columns():
        b = blocks[c["name"]]
        out.append({"column": c["name"], "start": b["start"], "size": b["size"], "cond_start": pos,
                    "freq": c["frequencies"]})
        pos += b["size"]
    return out


class CondStream:
    """Resumable stream of (rows, cond vectors) by training-by-sampling; all draws use one
    torch.Generator whose state is checkpointed."""

    def __init__(self, x: torch.Tensor, layout: list[dict], batch_size: int, seed: int):
        if len(x) < batch_size:
            raise GanforgeError(f"the table has {len(x)} rows, fewer than the batch size {batch_size}; "
                                f"lower --batch-size")
        self.x, self.layout, self.batch_size = x, layout, batch_size
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.cond_dim = sum(c["size"] for c in layout)
        kmax = max(c["size"] for c in layout)
        n_cols = len(layout)
        # rows sorted by category per column, with each category's start and count
        self.order = torch.empty(n_cols, len(x), dtype=torch.int32 if len(x) < 2**31 else torch.int64)
        self.start = torch.zeros(n_cols, kmax, dtype=torch.int64)
        self.count = torch.zeros(n_cols, kmax, dtype=torch.int64)
        self.logp = torch.zeros(n_cols, kmax)
        for j, c in enumerate(layout):
            codes = x[:, c["start"]:c["start"] + c["size"]].argmax(1)
            self.order[j] = torch.argsort(codes, stable=True).to(self.order.dtype)
            cnt = torch.bincount(codes, minlength=c["size"])
            self.count[j, :c["size"]] = cnt
            self.start[j, :c["size"]] = torch.cumsum(cnt, 0) - cnt
            w = torch.log1p(cnt.double()).float()
            self.logp[j, :c["size"]] = w / w.sum()
        self.cond_offset = torch.tensor([c["cond_start"] for c in layout])

    def next(self):
        b, g = self.batch_size, self.gen
        col = torch.randint(len(self.layout), (b,), generator=g)
        cat = torch.multinomial(self.logp[col], 1, generator=g).squeeze(1)
        pos = (torch.rand(b, generator=g) * self.count[col, cat]).long()
        rows = self.order[col, self.start[col, cat] + pos].long()
        cond = torch.zeros(b, self.cond_dim)
        cond[torch.arange(b), self.cond_offset[col] + cat] = 1.0
        return self.x[rows], cond

    def state_dict(self):
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, s):
        self.gen.set_state(s["generator"])


class TableDataset(Dataset):
    """kind "table": `x` is the encoded float matrix; info holds the transformer (JSON) and the
    conditional layout, so every checkpoint and generator.json can decode samples by itself."""

    def stream(self, batch_size: int, seed: int):
        layout = self.info["cond"]
        if not layout:  # no discrete column: plain shuffled epochs, no conditional vector
            return ShuffledStream(self.x, None, batch_size, seed)
        return CondStream(self.x, layout, batch_size, seed)


def sampling_cond(layout: list[dict], n: int, gen: torch.Generator, fixed: tuple[int, int] | None = None):
    """Conditional vectors for generation: a uniform column, then its category at the *real*
    frequency, so generated marginals follow the data; `fixed` = (column index, category)."""
    dim = sum(c["size"] for c in layout)
    if not dim:
        return None
    cond = torch.zeros(n, dim)
    if fixed is not None:
        j, k = fixed
        cond[:, layout[j]["cond_start"] + k] = 1.0
        return cond
    col = torch.randint(len(layout), (n,), generator=gen)
    kmax = max(c["size"] for c in layout)
    freq = torch.zeros(len(layout), kmax)
    for j, c in enumerate(layout):
        freq[j, :c["size"]] = torch.tensor(c["freq"])
    cat = torch.multinomial(freq[col], 1, generator=gen).squeeze(1)
    offset = torch.tensor([c["cond_start"] for c in layout])
    cond[torch.arange(n), offset[col] + cat] = 1.0
    return cond
