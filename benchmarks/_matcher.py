"""The text-to-image benchmark's separate image-text matching model (R-precision, AttnGAN's
measure; kept apart from the GAN as TISE asks): a small CNN and a bag-of-words text encoder of
its own, trained by symmetric InfoNCE on real (image, caption) pairs. Never MiniLM, never the
GAN's D. Two judges differ only in the words they read (JUDGES)."""
from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data import attributes as attr


def words(text: str) -> list[str]:
    return re.findall(r"[a-z\-]+", text.lower())


def content(text: str, base: str) -> tuple:
    """What a caption says (class noun, attribute words), whatever the template."""
    t = " " + " ".join(words(text)) + " "
    noun = max((n for n in attr.NOUNS[base] if f" {n.lower()} " in t), key=len, default="")
    adjectives = {w for pair in attr.ATTRIBUTE_WORDS.values() for w in pair}
    return noun, frozenset(set(words(text)) & adjectives)


class Matcher(nn.Module):
    """CNN image encoder + bag-of-words text encoder into one 128-d space (cosine scores); words
    outside `vocab` are skipped."""

    def __init__(self, vocab: dict[str, int], channels: int = 1, dim: int = 128):
        super().__init__()
        self.vocab = vocab
        self.image = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(32 * 16, dim))
        self.words = nn.EmbeddingBag(len(vocab) + 1, dim, mode="mean", padding_idx=0)
        self.text = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim))

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        ids = [[self.vocab.get(w, 0) for w in words(t)] or [0] for t in texts]
        offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
        flat = torch.tensor([w for i in ids for w in i])
        return F.normalize(self.text(self.words(flat, offsets)), dim=1)

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(x.float()), dim=1)


JUDGES = ("content", "all-words")


def judge_vocabulary(captions: list[str], base: str, judge: str) -> dict[str, int]:
    """`all-words`: every word of the training captions; `content`: only the words of the class
    nouns and the attribute words, so the template around them cannot matter."""
    vocab = {w for t in captions for w in words(t)}
    if judge == "content":
        vocab &= {w for n in attr.NOUNS[base] for w in words(n)} | {w for pair in attr.ATTRIBUTE_WORDS.values()
                                                                   for w in pair}
    return {w: i + 1 for i, w in enumerate(sorted(vocab))}


def train_matcher(data, base: str, steps: int, seed: int = 0, judge: str = "content") -> Matcher:
    """Symmetric InfoNCE on real training pairs; captions of the same content are not negatives."""
    torch.manual_seed(seed)
    vocab = judge_vocabulary(data.captions, base, judge)
    model = Matcher(vocab, data.x.shape[1])
    keys = [content(t, base) for t in data.captions]
    key_id = {k: i for i, k in enumerate(sorted(set(keys), key=str))}
    cap_key = torch.tensor([key_id[k] for k in keys])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        pick = torch.randint(len(data.pair_image), (128,), generator=g)
        img, cap = data.pair_image[pick], data.pair_caption[pick]
        shift = torch.randint(-2, 3, (2,), generator=g).tolist()  # +-2 px: not pixel-exact features
        x = torch.roll(data.x[img], shifts=shift, dims=(2, 3))
        logits = model.embed_images(x) @ model.embed_text([data.captions[i] for i in cap.tolist()]).T / 0.1
        k = cap_key[cap]
        same = (k[:, None] == k[None, :]) & ~torch.eye(len(k), dtype=torch.bool)
        logits = logits.masked_fill(same, -1e4)
        target = torch.arange(len(k))
        loss = F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            print(f"matcher step {step + 1}/{steps}: loss {loss.item():.3f}", flush=True)
    return model.eval()


@torch.no_grad()
def r_precision(model: Matcher, images: torch.Tensor, captions: list[dict], pool: list[dict], seed: int) -> np.ndarray:
    """1 where the true caption outranks 99 captions of other content, per image."""
    rng = np.random.default_rng(seed)
    key = lambda c: (c["label"], tuple(sorted(c["asked"].items())))  # noqa: E731
    pool_keys = [key(c) for c in pool]
    f = torch.cat([model.embed_images(images[i:i + 500]) for i in range(0, len(images), 500)])
    hits = []
    for i, c in enumerate(captions):
        others = [j for j, k in enumerate(pool_keys) if k != key(c)]
        cand = [c["caption"]] + [pool[j]["caption"] for j in rng.choice(others, 99, replace=False)]
        s = model.embed_text(cand) @ f[i]
        hits.append(float(s[0] > s[1:].max()))
    return np.array(hits)
