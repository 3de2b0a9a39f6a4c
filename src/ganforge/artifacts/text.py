"""Generate-only use of a text-to-image run: `ganforge.load(run).sample(n, text=[...])` and
`ganforge generate RUN --text "a thick, slanted seven" -n 16 --out x.png`.

Needs `generator.json` (net spec, encoder key, data description), `generator.safetensors` and
the run's caption cache `text_cache.safetensors` (the captions shown in training previews); a
caption not cached there is encoded by the run's text encoder (data/text.py) and added to the
cache, so the encoder is loaded only for new wordings. `text_subspace.safetensors`, where the
run has one, holds the principal directions of the training captions' embeddings
(data/captions.py `subspace`): every embedding is projected onto them before G, so the
directions only a new phrasing moves in are dropped rather than extrapolated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.text import CachedEncoder, EmbeddingCache, check_captions, user_cache
from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError
from ..io.images import grid, png_bytes, save_png, to_uint8
from .saved import GENERATOR_JSON, GENERATOR_WEIGHTS, read_generator

TEXT_CACHE = "text_cache.safetensors"
TEXT_SUBSPACE = "text_subspace.safetensors"


@dataclass
class TextSamples:
    samples: np.ndarray            # uint8 (N, H, W, C)
    captions: list[str]            # the caption of each sample
    labels: None = None            # (a text model has no class labels)


class TextToImage:
    """A trained text-to-image generator: captions in, images out."""

    has_filter = False
    num_classes = 0

    def __init__(self, net: torch.nn.Module, info: dict, device: str = "cpu",
                 known: dict[str, np.ndarray] | None = None, run_dir: Path | None = None,
                 subspace: tuple[torch.Tensor, torch.Tensor] | None = None):
        self.net, self.info, self.device = net.eval().to(device), info, device
        self.z_dim, self.data = info["z_dim"], info["data"]
        self.examples: list[str] = list(info.get("examples", []))
        self.run_dir = Path(run_dir) if run_dir is not None else None
        key = info["text_encoder"]  # new captions are cached in the run folder, else the user cache
        stores = ([self.run_dir / TEXT_CACHE] if self.run_dir is not None else []) + [user_cache(key)]
        self.encoder = CachedEncoder(key, stores)
        self._known = dict(known or {})  # captions embedded in training (previews), before any save
        self.subspace = subspace  # (mean, basis (k, E)) or None: embeddings are used as given

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "TextToImage":
        run_dir = Path(run_dir)
        net, info = read_generator(run_dir, "text")
        return cls(net, info, device, run_dir=run_dir, subspace=read_subspace(run_dir / TEXT_SUBSPACE))

    def save(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in self.net.state_dict().items()}
        from safetensors.torch import save_file
        atomic_write(run_dir / GENERATOR_WEIGHTS, lambda tmp: save_file(tensors, tmp))
        cache = EmbeddingCache(run_dir / TEXT_CACHE, self.info["text_encoder"])
        cache.add(list(self._known), list(self._known.values()))
        cache.save(strict=True)
        if self.subspace is not None:
            mean, basis = self.subspace
            atomic_write(run_dir / TEXT_SUBSPACE, lambda tmp: save_file({"mean": mean.contiguous(),
                                                                         "basis": basis.contiguous()}, tmp))
        else:
            (run_dir / TEXT_SUBSPACE).unlink(missing_ok=True)
        atomic_write(run_dir / GENERATOR_JSON, lambda tmp: Path(tmp).write_text(json.dumps(self.info, indent=2)))

    def embed(self, captions) -> torch.Tensor:
        texts = check_captions(captions)
        if all(t in self._known for t in texts):
            emb = torch.from_numpy(np.stack([self._known[t] for t in texts]))
        else:
            emb = torch.from_numpy(self.encoder.encode(texts))
        if self.subspace is None:
            return emb
        mean, basis = self.subspace
        return mean + ((emb - mean) @ basis.T) @ basis

    @torch.no_grad()
    def sample_tensor(self, n: int, text, seed: int | None = 0, batch_size: int = 500):
        """`n` model-space images per caption (caption by caption) and the caption of each."""
        if text is None:
            raise GanforgeError(f"this model draws images from text; pass text=[...] "
                                f"(e.g. {self.examples[0]!r})" if self.examples else
                                "this model draws images from text; pass text=[...]")
        if n < 1:
            raise GanforgeError(f"-n must be at least 1, got {n}")
        texts = check_captions(text)
        emb = self.embed(texts).repeat_interleave(n, dim=0)
        gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        z = torch.randn(len(emb), self.z_dim, generator=gen)
        out = [self.net(z[i:i + batch_size].to(self.device), emb[i:i + batch_size].to(self.device)).float().cpu()
               for i in range(0, len(z), batch_size)]
        return torch.cat(out), [t for t in texts for _ in range(n)]

    def sample(self, n: int, text=None, seed: int | None = 0, **_) -> TextSamples:
        """`n` uint8 (H, W, C) images for each caption in `text` (a string or a list)."""
        x, caps = self.sample_tensor(n, text, seed)
        return TextSamples(to_uint8(x), caps)

    def write(self, path: str | Path, n: int, text=None, seed: int = 0, label=None, **_) -> TextSamples:
        """.png: a grid with one row per caption; .npz: `samples` and `captions`."""
        path = Path(path)
        if label is not None:
            raise GanforgeError("a text-to-image model takes captions, not --label; use --text \"...\"")
        if text is None:
            raise GanforgeError(f"this model draws images from text: ganforge generate {self.run_dir or 'RUN'} "
                                f"--text \"{self.examples[0] if self.examples else 'a caption'}\" -n 16 --out x.png")
        if path.suffix.lower() not in (".npz", ".png"):
            raise GanforgeError(f"--out must end in .npz or .png, got '{path.name}'")
        s = self.sample(n, text, seed)
        if path.suffix.lower() == ".npz":
            def write_npz(tmp):
                with open(tmp, "wb") as f:
                    np.savez(f, samples=s.samples, captions=np.array(s.captions, dtype=str))
            atomic_write(path, write_npz)
        else:
            save_png(path, grid(s.samples, nrow=n, upscale_to=256))
        return s

    def preview_png(self, captions=None, n: int = 8, seed: int = 1234, title: str = "") -> bytes:
        """One row of `n` samples per caption (default: the run's example captions)."""
        s = self.sample(n, captions or self.examples, seed)
        return png_bytes(grid(s.samples, nrow=n, upscale_to=256))


def read_subspace(path: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A run's saved caption subspace (mean, basis), or None where the run has none."""
    if not path.exists():
        return None
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        t = load_file(str(path))
        mean, basis = t["mean"].float(), t["basis"].float()
    except (SafetensorError, OSError, KeyError) as e:
        raise GanforgeError(f"cannot read {path} ({str(e).splitlines()[0]}); the run folder is damaged") from None
    if mean.dim() != 1 or basis.dim() != 2 or basis.shape[1] != len(mean):
        raise GanforgeError(f"{path} holds a mean {tuple(mean.shape)} and basis {tuple(basis.shape)} that do "
                            f"not fit together; the run folder is damaged")
    return mean, basis
