"""Generate-only use of a trained time-series run: `ganforge.load(run).sample(n)`.

generator.json holds the sampler's spec (TimeGAN: generator -> supervisor -> recovery), the
noise it takes and the data description: column names, the per-feature min-max scaling and
the window lengths seen in training. Samples come back in the original units and names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io.checkpoint import atomic_write
from ..data.series import scale_back
from ..io.errors import GanforgeError
from .noise import Generator
from .saved import read_generator

SUFFIXES = (".csv", ".npz", ".png")


@dataclass
class SeriesSamples:
    samples: np.ndarray    # float (N, T, F) in original units; NaN after each window's length
    lengths: np.ndarray    # int64 (N,)
    columns: list[str]

    def frame(self):
        """Long format: one row per real time step: series, step, then the original columns."""
        import pandas as pd
        n, t, _ = self.samples.shape
        keep = (np.arange(t)[None, :] < self.lengths[:, None]).reshape(-1)
        df = pd.DataFrame(self.samples.reshape(n * t, -1)[keep], columns=self.columns)
        df.insert(0, "step", np.tile(np.arange(t), n)[keep])
        df.insert(0, "series", np.repeat(np.arange(n), t)[keep])
        return df


class SeriesModel:
    """A trained noise-to-series generator: windows of the training data's columns and units."""

    has_filter = False
    filter_net = None

    def __init__(self, net: torch.nn.Module, info: dict, device: str = "cpu"):
        self.net, self.info, self.device = net.eval().to(device), info, device
        self.data = info["data"]
        self.columns: list[str] = self.data["info"]["columns"]
        self.window, self.z_dim = int(info["window"]), int(info["z_dim"])

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "SeriesModel":
        net, info = read_generator(run_dir, "series")
        return cls(net, info, device)

    def save(self, run_dir: Path) -> None:
        Generator.save(self, run_dir)  # the same two files: weights, then the JSON describing them

    def lengths(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """Window lengths drawn from those seen in training."""
        counts = torch.tensor(self.data["info"]["length_counts"], dtype=torch.float64)
        idx = torch.multinomial(counts[:, 1], n, replacement=True, generator=gen)
        return counts[idx, 0].long()

    @torch.no_grad()
    def sample_tensor(self, n: int, seed: int | None = 0, batch_size: int = 1000):
        """Model-space windows (N, T, F) in [0, 1], zero after each length, and the lengths."""
        gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        lengths = self.lengths(n, gen)
        mask = (torch.arange(self.window)[None, :] < lengths[:, None]).unsqueeze(-1)
        z = torch.rand(n, self.window, self.z_dim, generator=gen) * mask  # TimeGAN: U[0, 1) noise
        x = torch.cat([self.net(z[i:i + batch_size].to(self.device)).float().cpu()
                       for i in range(0, n, batch_size)]) if n else torch.empty(0, self.window, len(self.columns))
        return x * mask, lengths

    def sample(self, n: int, seed: int | None = 0, labels=None, filter=None) -> SeriesSamples:
        """`n` windows in the original units and column order (NaN after each window's length)."""
        if labels is not None:
            raise GanforgeError("this time-series model is unconditional; sample without --label")
        x, lengths = self.sample_tensor(n, seed)
        out = scale_back(x.numpy().astype(np.float64), self.data["info"])
        out[np.arange(self.window)[None, :] >= lengths.numpy()[:, None]] = np.nan
        return SeriesSamples(out, lengths.numpy().astype(np.int64), list(self.columns))

    def write(self, path: str | Path, n: int, label=None, seed: int = 0, filter=None) -> SeriesSamples:
        """.csv (long: series, step, columns), .npz (series (N, T, F), lengths, columns) or .png."""
        path = Path(path)
        if path.suffix.lower() not in SUFFIXES:
            raise GanforgeError(f"--out must end in .csv, .npz or .png for a time-series model, got '{path.name}'")
        if n < 1:
            raise GanforgeError(f"-n must be at least 1, got {n}")
        s = self.sample(n, seed=seed, labels=label)
        if path.suffix.lower() == ".csv":
            text = s.frame().to_csv(index=False)
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        elif path.suffix.lower() == ".npz":
            def write_npz(tmp):
                with open(tmp, "wb") as f:
                    np.savez(f, series=s.samples.astype(np.float32), lengths=s.lengths, columns=np.array(s.columns))
            atomic_write(path, write_npz)
        else:
            png = series_png(s.samples, s.columns)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))
        return s

    def preview_png(self, n: int = 8, seed: int = 1234, reference: np.ndarray | None = None, title: str = "") -> bytes:
        return series_png(self.sample(n, seed=seed).samples, self.columns, reference, title)


def series_png(x: np.ndarray, columns: list[str], reference: np.ndarray | None = None, title: str = "",
               features: int = 6) -> bytes:
    """One panel per feature (at most `features`): generated windows in colour, real in grey."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = min(features, x.shape[-1])
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.4), squeeze=False)
    for j, ax in enumerate(axes[0]):
        if reference is not None:
            ax.plot(reference[:, :, j].T, color="0.6", lw=0.8)
        ax.plot(x[:, :, j].T, lw=1.0)
        ax.set_title(columns[j], fontsize=9)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title + ("   (grey: real)" if reference is not None else ""), fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
