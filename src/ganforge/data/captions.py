"""Images with captions, for text-to-image.

Sources (`load_captioned`):
- a built-in captioned set (`digits-captions`, `mnist5k-captions`, `fashion-mnist-captions`):
  captions from the class and attributes measured on the pixels (data/attributes.py); 20% of
  digits / mnist5k (seeded, stratified) and Fashion-MNIST's test split are kept for evaluation;
- a folder of images with `captions.csv` (columns `file`, `caption`; a file may have several
  rows), paths relative to the folder;
- a `.jsonl` file, one {"image": path, "caption": text} (or "captions": [...]) per line, paths
  relative to the file;
- a `.npz` with `images` and `captions` (N,) or (N, k) strings ("" = none), optional `labels`.

A `CaptionedDataset` is a plain image Dataset (class labels where there are any, so a cgan
trains on it too) plus its (image, caption) pairs; once `embedded`, its batches are (images,
caption embeddings) drawn over the pairs, in seeded epochs like any other stream.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from . import attributes as attr
from .base import Dataset, ShuffledStream
from .text import CachedEncoder, check_captions

SPLIT_SEED, EVAL_SHARE = 0, 0.2


@dataclass
class CaptionedDataset(Dataset):
    captions: list[str] = field(default_factory=list)          # distinct caption texts
    pair_image: torch.Tensor | None = None                      # (P,) image of each pair
    pair_caption: torch.Tensor | None = None                    # (P,) index into `captions`
    emb: torch.Tensor | None = None                             # (len(captions), E) once embedded
    kept: tuple | None = None                                   # (mean, basis) `emb` was projected onto, if any

    def embedded(self, encoder: CachedEncoder) -> "CaptionedDataset":
        """The same data with its captions embedded: batches become (images, embeddings)."""
        emb = torch.from_numpy(encoder.encode(self.captions))
        info = {**self.info, "text_encoder": encoder.key, "text_dim": int(emb.shape[1]),
                "example_captions": self.info.get("example_captions") or self.examples()}
        return dataclasses.replace(self, emb=emb, info=info)

    def examples(self, k: int = 8, seed: int = 0) -> list[str]:
        """A fixed handful of the data's own captions for previews: the longest of a seeded draw."""
        rng = np.random.default_rng(seed)
        pool = [self.captions[i] for i in rng.permutation(len(self.captions))[:4 * k]]
        return sorted(pool, key=lambda t: (-len(t), t))[:k]

    def with_dropped_words(self, share: float, copies: int = 1, seed: int = 0) -> "CaptionedDataset":
        """The same data plus `copies` extra pairs per pair whose caption lost each word with
        probability `share` (one word at least is kept): the words that come and go with a
        phrasing ("an image showing ...") stop being something G can key on."""
        if share <= 0 or copies <= 0:
            return self
        rng = np.random.default_rng(seed)
        texts, owners = [], []
        for img, cap in zip(self.pair_image.tolist() * copies, self.pair_caption.tolist() * copies):
            words = self.captions[cap].split()
            keep = rng.random(len(words)) >= share
            if not keep.any():
                keep[rng.integers(len(words))] = True
            texts.append(" ".join(w for w, k in zip(words, keep) if k).strip(" ,") or words[0])
            owners.append(img)
        known = set(self.captions)
        captions = self.captions + sorted({t for t in texts if t not in known})
        index = {t: i for i, t in enumerate(captions)}
        extra = torch.tensor([index[t] for t in texts], dtype=torch.int64)
        info = {**self.info, "example_captions": self.examples(),
                "word_dropout": f"+{len(texts):,} pairs with words dropped ({share:g} each)"}
        return dataclasses.replace(self, captions=captions, info=info,
                                   pair_image=torch.cat([self.pair_image, torch.tensor(owners, dtype=torch.int64)]),
                                   pair_caption=torch.cat([self.pair_caption, extra]))

    def subspace(self, share: float, min_corr: float = 0.0) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(mean, basis (k, E)): the fewest principal directions of the training pairs' caption
        embeddings that hold `share` of their variance (None when `share` is 0 or 1: keep all).
        A new phrasing also moves the embedding in directions the training captions never
        moved in; G has no trained response there, so sampling drops them (artifacts/text.py).
        With `min_corr` > 0, of those only the span of the canonical directions whose correlation
        with the paired images is at least `min_corr` (`_content_directions`): the directions a
        caption's wording moves along but its picture does not (phrasing) go too.
        Data already `projected` gives the subspace it was projected onto, whatever `share`."""
        if self.kept is not None:
            return self.kept
        if self.emb is None or not 0 < share < 1:
            return None
        mean, evals, evecs = _weighted_pca(self.emb.double(), torch.bincount(self.pair_caption, minlength=len(self.emb)))
        centred = self.emb.double() - mean
        k = min(int(torch.searchsorted(evals.cumsum(0) / evals.sum().clamp_min(1e-12),
                                       torch.tensor(share, dtype=evals.dtype))) + 1, len(evals))
        basis = evecs[:, :k]
        if min_corr > 0:
            basis = _content_directions(self, centred, basis, evals[:k], min_corr)
        return mean.float(), basis.T.contiguous().float()

    def projected(self, share: float, min_corr: float = 0.0) -> "CaptionedDataset":
        """The same data with every embedding projected onto `subspace(share, min_corr)`, so G
        and D train on what sampling will show them."""
        kept = self.subspace(share, min_corr)
        if kept is None or self.kept is not None:
            return self
        mean, basis = kept
        return dataclasses.replace(self, emb=mean + ((self.emb - mean) @ basis.T) @ basis, kept=kept)

    def pair_texts(self) -> list[str]:
        return [self.captions[i] for i in self.pair_caption.tolist()]

    def stream(self, batch_size: int, seed: int):
        if self.emb is None:  # not embedded: an ordinary labelled image set (cgan baselines)
            return super().stream(batch_size, seed)
        return CaptionStream(self, batch_size, seed)


class CaptionStream(ShuffledStream):
    """Seeded epochs over the (image, caption) pairs; a batch is (images, caption embeddings)."""

    def __init__(self, data: CaptionedDataset, batch_size: int, seed: int):
        self.images, self.emb = data.x, data.emb
        self.pair_image, self.pair_caption = data.pair_image, data.pair_caption
        super().__init__(torch.arange(len(data.pair_image)), None, batch_size, seed)

    def next(self):
        pairs, _ = super().next()
        return (self.images.index_select(0, self.pair_image.index_select(0, pairs)),
                self.emb.index_select(0, self.pair_caption.index_select(0, pairs)))


def _from_pairs(base: Dataset, texts: list[str], owner, what: str, **info) -> CaptionedDataset:
    texts = check_captions(texts, what)
    distinct = sorted(set(texts))
    index = {t: i for i, t in enumerate(distinct)}
    owner = torch.as_tensor(np.asarray(owner), dtype=torch.int64)
    keep = torch.unique(owner)
    if len(keep) < len(base.x):  # images without a caption are not trained on
        remap = torch.full((len(base.x),), -1, dtype=torch.int64)
        remap[keep] = torch.arange(len(keep))
        base = dataclasses.replace(base, x=base.x[keep].contiguous(),
                                   labels=base.labels[keep] if base.labels is not None else None)
        owner = remap[owner]
    note = f"{len(texts):,} captions of {len(base.x):,} images ({len(distinct):,} distinct)"
    return CaptionedDataset(base.name, "images", base.x, base.labels, base.class_names, None,
                            {**base.info, "captions": note, **info}, captions=distinct, pair_image=owner,
                            pair_caption=torch.tensor([index[t] for t in texts], dtype=torch.int64))


# ---- built-in sets -----------------------------------------------------------------------
def load_builtin(base_name: str, split: str = "train") -> CaptionedDataset:
    """`split`: "train" (what text2img trains on) or "eval" (held-out images, never trained on)."""
    from .builtin import load as load_base
    if base_name == "fashion-mnist":
        train = load_base(base_name, "train")
        base = train if split == "train" else load_base(base_name, "test")
    else:
        from sklearn.model_selection import train_test_split
        full = load_base(base_name)
        tr, ev = train_test_split(np.arange(len(full.x)), test_size=EVAL_SHARE, random_state=SPLIT_SEED,
                                  stratify=full.labels.numpy())
        pick = lambda idx: dataclasses.replace(full, x=full.x[np.sort(idx)].contiguous(),  # noqa: E731
                                               labels=full.labels[np.sort(idx)])
        train, base = pick(tr), pick(tr if split == "train" else ev)
    names = attr.SET_ATTRIBUTES[base_name]
    unit = lambda d: ((d.x[:, 0].numpy() + 1.0) / 2.0)  # noqa: E731  greyscale in [0, 1]
    thr = attr.thresholds(attr.measure(unit(train), names), train.labels.numpy(), train.num_classes)
    lev = attr.levels(attr.measure(unit(base), names), base.labels.numpy(), thr)
    texts, owner = attr.training_captions(base_name, base.labels.numpy(), lev, seed=1 if split == "train" else 2)
    base = dataclasses.replace(base, name=f"{base_name}-captions")
    return _from_pairs(base, texts, owner, "caption", split=split,
                       attributes={"names": list(names), "thresholds": thr, "set": base_name})


def _weighted_pca(x: torch.Tensor, weight: torch.Tensor):
    """(mean, variances, directions (D, D) as columns), largest first, of the rows of x counted
    `weight` times each (a caption or an image by its number of pairs)."""
    weight = weight.double()
    mean = (weight @ x) / weight.sum()
    centred = x - mean
    evals, evecs = torch.linalg.eigh((centred * weight[:, None]).T @ centred / weight.sum())
    return mean, evals.flip(0).clamp_min(0), evecs.flip(1)


IMAGE_COMPONENTS = 32  # pixel principal components the caption directions are correlated with
IMAGE_DIMS = 1024      # images with more values are average-pooled below this first


def _content_directions(data: CaptionedDataset, centred: torch.Tensor, basis: torch.Tensor,
                        evals: torch.Tensor, min_corr: float) -> torch.Tensor:
    """(E, r) orthonormal: the span, in embedding space, of the canonical directions of the
    whitened caption coordinates (`centred` @ `basis`) against the paired images' whitened
    leading pixel components (CCA over the pairs) whose correlation is at least `min_corr`.
    Templates are drawn independently of the picture, so the directions only the wording moves
    along correlate with nothing in it; class and attribute words do. Pixel components are
    used (not a classifier's features) so that any user data set has them."""
    x = data.x.double()
    if x[0].numel() > IMAGE_DIMS:
        side = max(1, int((IMAGE_DIMS / x.shape[1]) ** 0.5))
        x = torch.nn.functional.adaptive_avg_pool2d(x, side)
    x = x.reshape(len(x), -1)
    x_mean, ev, vec = _weighted_pca(x, torch.bincount(data.pair_image, minlength=len(x)))
    xc = x - x_mean
    ev, vec = ev[:IMAGE_COMPONENTS], vec[:, :IMAGE_COMPONENTS]
    keep = ev > 1e-9 * ev[0].clamp_min(1e-30)
    image = (xc @ vec[:, keep]) / ev[keep].sqrt()                       # whitened, per image
    scale = evals.clamp_min(1e-12).sqrt()
    text = (centred[data.pair_caption] @ basis) / scale                 # whitened, per pair
    cross = text.T @ image[data.pair_image] / len(data.pair_image)
    directions, corr, _ = torch.linalg.svd(cross, full_matrices=True)
    r = int((corr >= min_corr).sum())
    if r == 0:
        return basis
    return torch.linalg.qr((basis * scale) @ directions[:, :r])[0]


# ---- user data ---------------------------------------------------------------------------
def _rows_csv(path: Path) -> list[tuple[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
                raise GanforgeError(f"{path} needs the columns 'file' and 'caption' (found: "
                                    f"{', '.join(reader.fieldnames or []) or 'none'})")
            return [(r["file"] or "", r["caption"]) for r in reader]
    except UnicodeDecodeError:
        raise GanforgeError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None


def _rows_jsonl(path: Path) -> list[tuple[str, object]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise GanforgeError(f"{path} line {n} is not JSON ({e.msg}); one object per line") from None
        caps = rec.get("captions", [rec["caption"]] if "caption" in rec else None) if isinstance(rec, dict) else None
        if not isinstance(rec, dict) or not isinstance(rec.get("image"), str) or not isinstance(caps, list):
            raise GanforgeError(f"{path} line {n} needs \"image\" (a path) and \"caption\" or \"captions\"")
        rows += [(rec["image"], c) for c in caps]
    return rows


def _from_files(root: Path, rows: list, source: str, image_size: int | None) -> CaptionedDataset:
    from .files import read_images
    if not rows:
        raise GanforgeError(f"{source} lists no captions; add rows of file and caption")
    files = sorted({f for f, _ in rows})
    where = {f: i for i, f in enumerate(files)}
    paths = [(root / f) for f in files]
    for f, p in zip(files, paths):
        if not p.is_file():
            raise GanforgeError(f"{source} names {f!r}, which is not a file in {root}; fix the path")
    x, info = read_images(paths, image_size)
    base = Dataset(root.name or str(root), "images", x, info={"source": source, **info})
    return _from_pairs(base, [c for _, c in rows], [where[f] for f, _ in rows], f"caption in {source}")


def _from_npz(path: Path) -> CaptionedDataset:
    from .files import load_npz
    base = load_npz(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            caps = f["captions"] if "captions" in f else None
    except ValueError:
        raise GanforgeError(f"{path}: 'captions' must be saved as strings, e.g. "
                            f"np.savez(path, images=..., captions=np.array(texts, dtype=str))") from None
    if caps is None:
        raise GanforgeError(f"{path} has no 'captions' array; save it with np.savez(path, images=..., captions=...)")
    if caps.dtype.kind != "U":
        raise GanforgeError(f"{path}: 'captions' holds {caps.dtype} values, not text; save np.array(texts, dtype=str)")
    caps = caps.reshape(len(caps), -1) if caps.ndim in (1, 2) and len(caps) == len(base.x) else None
    if caps is None:
        raise GanforgeError(f"{path}: 'captions' must be (N,) or (N, k) for the {len(base.x)} images")
    given = np.char.str_len(np.char.strip(caps)) > 0  # "" pads rows with fewer captions
    return _from_pairs(base, [str(t) for t in caps[given]], np.nonzero(given)[0], f"caption in {path.name}")


def captioned_names() -> list[str]:
    from .registry import names
    return [n for n in names("images") if n.endswith("-captions")]


def load_captioned(spec: str, image_size: int | None = None) -> CaptionedDataset:
    """A captioned set: a built-in name, a folder with captions.csv, a .jsonl or a .npz."""
    from . import registry
    from .load import resized
    entry = registry.builtin(spec)
    path = Path(spec)
    if entry is not None:
        data = entry.load() if entry.load is not None else None
        if not isinstance(data, CaptionedDataset):
            raise GanforgeError(f"'{spec}' has no captions; text-to-image trains on "
                                f"{', '.join(captioned_names())}, a folder with captions.csv, "
                                f"a .jsonl or a .npz with captions")
    elif path.is_dir():
        if not (path / "captions.csv").is_file():
            raise GanforgeError(f"folder {path} has no captions.csv (columns file, caption); add one")
        data = _from_files(path, _rows_csv(path / "captions.csv"), str(path / "captions.csv"), image_size)
    elif path.suffix.lower() == ".jsonl" and path.is_file():
        data = _from_files(path.parent, _rows_jsonl(path), str(path), image_size)
    elif path.suffix.lower() == ".npz" and path.is_file():
        data = _from_npz(path)
    else:
        raise GanforgeError(f"cannot read captioned data from '{spec}': pass a built-in captioned set "
                            f"({', '.join(captioned_names())}), a folder with captions.csv, "
                            f"a .jsonl or a .npz with images and captions")
    if image_size is not None and tuple(data.x.shape[-2:]) != (image_size, image_size):
        data = dataclasses.replace(data, x=resized(data, image_size).x,
                                   info={**data.info, "resize": f"-> {image_size}x{image_size}"})
    return data
