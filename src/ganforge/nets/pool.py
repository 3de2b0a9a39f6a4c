"""CycleGAN's image history pool as a module with buffers, so it is checkpointed and resumes exactly."""
from __future__ import annotations

import torch
from torch import nn


class ImagePool(nn.Module):
    """Shrivastava et al. 2017: D is shown past fakes half the time, which damps oscillation."""

    def __init__(self, size: int, shape: list[int]):
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        out, size = [], self.images.shape[0]
        for f in fakes:
            n = int(self.count)
            if n < size:
                self.images[n] = f
                self.count += 1
                out.append(f)
            elif float(torch.rand(())) < 0.5:
                i = int(torch.randint(size, ()))
                out.append(self.images[i].clone())
                self.images[i] = f
            else:
                out.append(f)
        return torch.stack(out)
