"""Generate-only use of a trained audio run: `ganforge.load(run).sample(n)` gives waveforms.

generator.json holds the generator's spec, its noise size and classes, and the data description
(sample rate, clip length). `write` makes a folder of 16-bit WAV files (one per clip, named by
class when conditional), a .npz of arrays, or a .png grid of spectrograms.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.audio import write_wav
from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..io.outputs import write_folder
from .noise import Generator
from .saved import read_generator


@dataclass
class AudioSamples:
    samples: np.ndarray          # float32 (N, L) in [-1, 1]
    labels: np.ndarray | None    # int64 (N,) for conditional models
    sample_rate: int


class AudioModel(Generator):
    """A trained noise-to-waveform generator (labels by index or name, as a cgan's)."""

    @property
    def sample_rate(self) -> int:
        return int(self.info["sample_rate"])

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "AudioModel":
        net, info = read_generator(run_dir, "audio")
        return cls(net, info, device)

    def sample(self, n: int, labels=None, seed: int | None = 0, filter=None, truncation=None) -> AudioSamples:
        """`n` clips (N, L) float32 in [-1, 1] at `sample_rate`, and their labels (conditional)."""
        if truncation is not None:
            self.check_truncation(truncation)
        if isinstance(labels, str) or isinstance(labels, int):
            labels = self.label_index(labels)
        x, y = self.sample_tensor(n, labels, seed)
        return AudioSamples(x.reshape(n, -1).numpy().astype(np.float32),
                            y.numpy().astype(np.int64) if y is not None else None, self.sample_rate)

    def write(self, path: str | Path, n: int, label=None, seed: int = 0, filter=None, truncation=None,
              overwrite: bool = False) -> AudioSamples:
        """A folder (no suffix) of WAV files, a .npz (samples, labels, sample_rate), a .png of
        spectrograms, or one .wav when n is 1. A folder is written whole or not at all."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in ("", ".wav", ".npz", ".png"):
            raise GanforgeError(f"--out must be a folder (for WAV files), .npz or .png for an audio model, got '{path.name}'")
        if n < 1:
            raise GanforgeError(f"-n must be at least 1, got {n}")
        if suffix == ".wav" and n != 1:
            raise GanforgeError(f"--out {path.name} holds one clip; pass -n 1, or a folder for {n} clips")
        if suffix == "" and path.exists() and (not path.is_dir() or any(path.iterdir())) and not overwrite:
            raise GanforgeError(f"output folder {path} already exists and is not empty; pass --overwrite to "
                                f"replace it or choose another --out")
        s = self.sample(n, labels=self.label_index(label), seed=seed, truncation=truncation)
        if suffix == ".wav":
            atomic_write(path, lambda tmp: write_wav(tmp, s.samples[0], s.sample_rate))
        elif suffix == ".npz":
            def write_npz(tmp):
                with open(tmp, "wb") as f:
                    np.savez(f, samples=s.samples, sample_rate=s.sample_rate,
                             **({"labels": s.labels} if s.labels is not None else {}))
            atomic_write(path, write_npz)
        elif suffix == ".png":
            png = spectrogram_grid(s.samples, s.sample_rate, self._titles(s.labels))
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))
        else:
            self._write_folder(path, s)
        return s

    def _titles(self, labels) -> list[str] | None:
        return None if labels is None else [self.class_names[int(y)] for y in labels]

    def _write_folder(self, path: Path, s: AudioSamples) -> None:
        """Clips into a fresh sibling folder, then renamed into place (nothing half-written)."""
        titles = self._titles(s.labels)

        def fill(tmp: Path) -> None:
            for i, clip in enumerate(s.samples):
                name = f"{i:05d}" + (f"_{titles[i]}" if titles else "")
                write_wav(tmp / f"{name}.wav", clip, s.sample_rate)
        write_folder(path, fill)

    def preview_png(self, n: int = 16, seed: int = 1234, reference=None, title: str = "") -> bytes:
        """Spectrograms: for a conditional model 2 per class, else `n`."""
        labels = None
        if self.num_classes:
            labels = np.repeat(np.arange(self.num_classes), 2)
        s = self.sample(len(labels) if labels is not None else n, labels=labels, seed=seed)
        return spectrogram_grid(s.samples, s.sample_rate, self._titles(s.labels), title)


def spectrogram_grid(clips: np.ndarray, rate: int, titles: list[str] | None = None, title: str = "",
                     cols: int = 4) -> bytes:
    """Log-power spectrograms (scipy.signal.spectrogram, 32 ms Hann windows), one panel per clip."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram
    n = len(clips)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.6 * rows + (0.3 if title else 0)), squeeze=False)
    nper = max(16, int(0.032 * rate))
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        f, t, p = spectrogram(clips[i].astype(np.float64), fs=rate, nperseg=nper, noverlap=nper // 2)
        ax.pcolormesh(t, f / 1000, 10 * np.log10(p + 1e-10), vmin=-100, vmax=-20, shading="auto", cmap="magma")
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.supxlabel(f"time (s), 0-{clips.shape[1] / rate:.2f}; frequency 0-{rate / 2000:g} kHz", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()
