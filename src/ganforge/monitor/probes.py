"""Probes the health monitor adds to its log records: collapse inside each class, and recall /
coverage against a held-aside real sample.

The monitor's fixed-noise diversity (`div`) spans all classes of a conditional G, so a G that
draws one image per class looks as diverse as the data (measured: a per-class collapse with
recall 0.001 logged "healthy" at every step). Here:

- `div_class_min`: every log step, for each class (up to MAX_CLASSES), the mean pairwise distance
  of G's images for PER_CLASS fixed latents over that of the class's real images; the lowest
  class. 1 = as varied as the real class, ~0 = one image per class.
- every RECALL_EVERY log steps, `probe_precision` / `probe_recall` / `probe_coverage` (k-NN,
  Kynkäänniemi k=3 / Naeem k=5) of REF_N generated (with the reals' labels) against REF_N
  held-aside real examples; `*_floor` = a second real sample scored the same way, once.
  Distances are in pixels pooled to at most POOL x POOL: no feature network is trained during
  training. Per class (~50 examples each) pixel recall was ~0 even for a run whose per-class
  recall in ganforge's CNN features was 0.38, so only the whole-set recall is logged; it follows
  the CNN's (mnist5k cGAN: pixel 0.29-0.33 where the CNN read 0.56; 0.00-0.01 where it read 0.16).
- `div_class_min_ema` / `div_class_worst_ema`: the same within-class diversity for the EMA copy of
  G (the generator a run saves), where the run keeps one. Averaged weights of a G that wanders
  inside a class can draw one image for it while the live G looks varied: textures-100 cGAN
  defaults, class 0 (CNN recall 0.00) read 0.12-0.42 live but 0.073 for the saved generator;
  the other classes 0.71-0.91. BatchNorm layers use the probe batch's own statistics (the EMA
  weights never produced the live running statistics; one batch gave 0.073 as the saved
  generator's 16-batch standing statistics did), on a copy: the EMA copy is untouched.

- `probe_label_acc` / `probe_label_acc_real`: with the recall probe, the share of G's images
  (asked for the reals' labels) that a small label reader (reader.py, trained once on this
  run's labelled images, runs of READER_MIN_STEPS+ steps) reads as the asked class, beside its
  accuracy on held-aside real images: a G that draws backgrounds but no class content.

- `probe_class_recall_min` / `probe_class_recall_worst` / `probe_class_recall_floor`: with the
  label probe, the recall of each class's held-aside real images by the saved generator's images
  of that class (the EMA copy where the run keeps one), in the reader's features, where pixels
  could not see it; the lowest class, and that class's real-vs-real recall (the second real
  sample), and the median class. A generator that draws one class from a small corner of it
  reads near 0 there while the median class is covered.

Text-to-image generators get the same probes with captions as the conditions: `div_class_min`
over up to MAX_CLASSES of the data's captions (`div_class_worst` its index, `div_worst_caption`
its text), recall / coverage with each held-aside image's own caption; no label reader.

All inputs come from a private RNG, G runs in eval mode without gradients: training is untouched.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics.prdc import prdc
from .reader import READER_MIN_STEPS, train_reader

PER_CLASS = 16        # fixed latents per class for the within-class diversity
MAX_CLASSES = 16      # more classes: a fixed sample of them is probed
REF_N = 512           # held-aside real examples (and as many generated) for recall / coverage
RECALL_EVERY = 4      # log steps between recall probes
POOL = 16             # images are average-pooled to at most this size before distances
K_PR, K_DC = 3, 5


def _features(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    if x.dim() == 4 and max(x.shape[-2:]) > POOL:
        x = F.adaptive_avg_pool2d(x, (min(POOL, x.shape[-2]), min(POOL, x.shape[-1])))
    return x.reshape(len(x), -1)


def _spread(x: torch.Tensor) -> float:
    return float(torch.pdist(_features(x)).mean()) if len(x) > 1 else 0.0


class Probes:
    """Built by the monitor at its first call; `signals(G, call)` returns the record entries."""

    def __init__(self, data, info: dict, device, steps: int = 0):
        g = torch.Generator().manual_seed(4242)
        self.device = device
        self.nc = int(info.get("num_classes") or 0)
        z_dim, x, y = info["z_dim"], data.x, data.labels
        perm = torch.randperm(len(x), generator=g)
        n = min(REF_N, len(x) // 2)
        ref, second = perm[:n], perm[n:2 * n]
        self.ref_index, self.ref_x, self.ref_y = ref, x[ref], (y[ref] if y is not None else None)
        self.classes, self.real_spread, self.captions = [], {}, None
        self.text = info.get("input") == "text"
        if self.text:  # captions are the conditions: G(z, caption embedding)
            self.nc, self.ref_y = 0, None
            self._caption_conditions(data, g)
        elif self.nc >= 2 and y is not None:
            pick = torch.randperm(self.nc, generator=g)[:MAX_CLASSES].sort().values.tolist()
            for c in pick:
                real_c = x[(y == c).nonzero().flatten()[:4 * PER_CLASS]]
                if len(real_c) >= 2:
                    self.real_spread[c] = max(_spread(real_c), 1e-12)
            self.classes = sorted(self.real_spread)
        if self.classes:
            self.div_z = torch.randn(len(self.classes) * PER_CLASS, z_dim, generator=g)
            self.div_y = torch.tensor(self.classes).repeat_interleave(PER_CLASS)
            self.div_cond = data.emb[self.div_y] if self.text else self.div_y  # what G is given
        # recall probe: as many fakes as held-aside reals, with the reals' labels (or captions)
        self.rec_z = torch.randn(n, z_dim, generator=g)
        self.rec_y = self.ref_y if self.nc else None
        self.rec_cond = self._image_captions(data, ref, g) if self.text else self.rec_y
        self.ref_f = _features(self.ref_x)
        self.floor = self._scores(self.ref_f, _features(x[second]))
        self.cache: dict = {}
        self.reader = None
        if self.classes and not self.text and data.kind == "images" and steps >= READER_MIN_STEPS:
            train = torch.ones(len(x), dtype=torch.bool)
            train[second] = False  # the second sample is the reader's held-aside real check
            self.reader = train_reader(x, y, self.nc, train.nonzero().flatten())
            self.reader_real = round(self.reader.accuracy(x[second], y[second]), 4)
            self.ref_rf = self.reader.features(self.ref_x)
            self.class_floor = self._class_recall(self.ref_rf, self.reader.features(x[second]), y[second])

    @classmethod
    def create(cls, data, info: dict, device, steps: int = 0) -> "Probes | None":
        """Probes for noise-input (and caption-input) generators of data held in memory with
        enough examples."""
        x = getattr(data, "x", None)
        if x is None or len(x) < 4 * K_DC or data.kind not in ("images", "points"):
            return None
        if info.get("input") == "text" and getattr(data, "emb", None) is not None and data.kind == "images":
            return cls(data, info, device, steps)
        return cls(data, info, device, steps) if info.get("input") == "noise" else None

    def _caption_conditions(self, data, g) -> None:
        """Up to MAX_CLASSES of the data's captions (those with several images first) as the
        conditions of the within-condition diversity. The reference spread of a caption is that
        of its own images, or the whole data's for a caption of one image: a G that draws one
        image per caption still reads ~0 against it."""
        counts = torch.bincount(data.pair_caption, minlength=len(data.captions))
        order = torch.randperm(len(data.captions), generator=g)
        pick = (order[counts[order] >= 2].tolist() + order[counts[order] < 2].tolist())[:MAX_CLASSES]
        whole = _spread(data.x[torch.randperm(len(data.x), generator=g)[:4 * PER_CLASS]])
        for c in pick:
            own = data.pair_image[data.pair_caption == c].unique()[:4 * PER_CLASS]
            self.real_spread[c] = max(_spread(data.x[own]) if len(own) >= 2 else whole, 1e-12)
        self.classes, self.captions = sorted(self.real_spread), data.captions

    @staticmethod
    def _image_captions(data, images: torch.Tensor, g) -> torch.Tensor:
        """The embedding of one of each image's own captions (a seeded pick among its pairs:
        the first pair of each image in a shuffled order; every image has a caption)."""
        perm = torch.randperm(len(data.pair_image), generator=g)
        owner, caption = data.pair_image[perm].numpy(), data.pair_caption[perm].numpy()
        imgs, first = np.unique(owner, return_index=True)
        pick = torch.full((len(data.x),), -1, dtype=torch.int64)
        pick[torch.from_numpy(imgs)] = torch.from_numpy(caption[first])
        return data.emb[pick[images]]

    def _gen(self, G, z, y) -> torch.Tensor:
        out = []
        for i in range(0, len(z), 256):
            yi = y[i:i + 256].to(self.device) if y is not None else None
            out.append(G(z[i:i + 256].to(self.device), yi).float().cpu())
        return torch.cat(out)

    def _scores(self, real_f, fake_f, cache=None) -> dict:
        s = prdc(real_f, fake_f, K_PR, K_DC, cache)
        return {"precision": s["precision"], "recall": s["recall"], "coverage": s["coverage"]}

    def _class_recall(self, real_f: torch.Tensor, fake_f: torch.Tensor, fake_y: torch.Tensor) -> dict[int, float]:
        """Per class with K_DC+1 or more examples on both sides: recall of the class's real
        features (ref_y) by the fake features of that class."""
        out = {}
        for c in range(self.nc):
            r, f = real_f[self.ref_y == c], fake_f[fake_y == c]
            if min(len(r), len(f)) > K_DC:
                out[c] = prdc(r, f, K_PR, K_DC)["recall"]
        return out

    def _class_div(self, x: torch.Tensor, suffix: str = "") -> dict:
        ratios = [_spread(x[self.div_y == c]) / self.real_spread[c] for c in self.classes]
        worst = min(range(len(ratios)), key=ratios.__getitem__)
        out = {f"div_class_min{suffix}": round(ratios[worst], 4), f"div_class_worst{suffix}": self.classes[worst]}
        if self.captions is not None:  # the condition is a caption: name it (class_detectors.py)
            out[f"div_worst_caption{suffix}"] = self.captions[self.classes[worst]]
        return out

    @staticmethod
    def _ema_net(ema):
        """A copy of the EMA G whose BN normalises by the probe batch (the running statistics
        are the live G's); the EMA copy itself is untouched."""
        net = copy.deepcopy(ema).eval()
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.train()
        return net

    def _worst_class(self, fake: torch.Tensor) -> dict:
        rec = self._class_recall(self.ref_rf, self.reader.features(fake), self.rec_y)
        if not rec:
            return {}
        c = min(rec, key=rec.get)
        return {"probe_class_recall_min": round(rec[c], 4), "probe_class_recall_worst": c,
                "probe_class_recall_floor": round(self.class_floor.get(c, 0.0), 4),
                "probe_class_recall_median": round(float(torch.tensor(list(rec.values())).median()), 4)}

    @torch.no_grad()
    def signals(self, G, call: int, ema=None) -> dict:
        """`ema`: the EMA copy of G, if the run keeps one."""
        was = G.training
        G.eval()
        try:
            out = {}
            ema_net = self._ema_net(ema) if ema is not None and self.classes else None  # one copy per call
            if self.classes:
                x = self._gen(G, self.div_z, self.div_cond)
                if not torch.isfinite(x).all():
                    return {}
                out.update(self._class_div(x))
                if ema_net is not None:
                    xe = self._gen(ema_net, self.div_z, self.div_cond)
                    if torch.isfinite(xe).all():
                        out.update(self._class_div(xe, "_ema"))
            if call % RECALL_EVERY == 1 or RECALL_EVERY == 1:
                fake = self._gen(G, self.rec_z, self.rec_cond)
                if torch.isfinite(fake).all():
                    s = self._scores(self.ref_f, _features(fake), self.cache)
                    out.update({f"probe_{k}": round(v, 4) for k, v in s.items()})
                    out.update({f"probe_{k}_floor": round(v, 4) for k, v in self.floor.items()})
                    if self.reader is not None:
                        out.update(probe_label_acc=round(self.reader.accuracy(fake, self.rec_y), 4),
                                   probe_label_acc_real=self.reader_real, probe_label_chance=round(1 / self.nc, 4))
                        saved = fake if ema_net is None else self._gen(ema_net, self.rec_z, self.rec_cond)
                        if torch.isfinite(saved).all():
                            out.update(self._worst_class(saved))
            return out
        finally:
            G.train(was)
