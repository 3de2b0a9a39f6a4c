"""A trained anomaly detector: `ganforge.load(run)` of a `ganomaly` or `fanogan` run.

generator.json says which net scores (`ganomaly` or `fanogan`, rebuilt from NETS) and what data
it was fitted on; generator.safetensors holds its weights. Scores are computed in eval mode
(BatchNorm on running statistics), so an item's score does not depend on its batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from .saved import read_generator, write_generator


class Detector:
    """`scores(x)`: one number per item of model-space data, higher = more anomalous."""

    def __init__(self, net: torch.nn.Module, info: dict, device: str = "cpu"):
        self.net, self.info, self.device = net.eval().to(device), info, device
        self.data = info["data"]

    @property
    def method(self) -> str:
        return self.info["family"]

    @classmethod
    def ensemble(cls, dets: list["Detector"], x: torch.Tensor) -> "Detector":
        """One detector of several fitted with different seeds: the mean of their scores, each
        standardized by its mean and sd on `x` (held-out normal items; nets/anomaly.py)."""
        if len(dets) == 1:
            return dets[0]
        from ..nets.anomaly import DetectorEnsemble
        specs = [d.info["net"] for d in dets]
        net = DetectorEnsemble(specs)
        for slot, d in zip(net.members, dets):
            slot.load_state_dict(d.net.state_dict())
        net.set_member_scale([torch.from_numpy(d.scores(x)) for d in dets])
        first = dets[0].info
        info = {**first, "net": {"net": "anomaly_ensemble", "kwargs": {"members": specs}}, "members": len(dets),
                "score": f"mean of {len(dets)} detectors' scores (seeds), each standardized on held-out normal "
                         f"items; each: {first['score']}"}
        return cls(net, info, dets[0].device)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "Detector":
        net, info = read_generator(run_dir, "anomaly")
        return cls(net, info, device)

    def save(self, run_dir: str | Path) -> None:
        write_generator(run_dir, self.net, self.info)

    @torch.no_grad()
    def scores(self, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Anomaly scores (float64, one per item) of `x`, in the shape the detector was fitted on."""
        shape = list(self.data["shape"])
        if list(x.shape[1:]) != shape:
            raise GanforgeError(f"this detector was fitted on items of shape {tuple(shape)}, "
                                f"got {tuple(x.shape[1:])}; score data of the same kind and size")
        was = self.net.training
        self.net.eval()
        try:
            out = [self.net.score(x[i:i + batch_size].to(self.device).float()).double().cpu()
                   for i in range(0, len(x), batch_size)]
        finally:
            self.net.train(was)
        return torch.cat(out).numpy() if out else np.zeros(0)

    @torch.no_grad()
    def standardize_on(self, x: torch.Tensor, train: torch.Tensor | None = None, batch_size: int = 256,
                       bank_size: int = 4000, seed: int = 0) -> None:
        """A score that sums standardized parts (GANomaly "recon+latent[+knn]") takes each part's
        mean and sd from `x`, held-out normal items; "knn" first keeps the codes of a seeded
        `bank_size` of the `train` items as its bank. Other scores are left as they are."""
        if not hasattr(self.net, "set_scale"):
            return
        was = self.net.training
        self.net.eval()
        try:
            if hasattr(self.net, "bank") and train is not None and len(train):  # only a "knn" score has one
                keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:bank_size]
                items = train[keep.sort().values]
                self.net.set_bank(torch.cat([self.net.enc(items[i:i + batch_size].to(self.device).float())
                                             for i in range(0, len(items), batch_size)]))
                # the saved spec builds a bank of this size
                kw = {**self.info["net"]["kwargs"], "bank_size": len(self.net.bank)}
                self.info = {**self.info, "net": {**self.info["net"], "kwargs": kw}}
            parts = [self.net.parts(x[i:i + batch_size].to(self.device).float()) for i in range(0, len(x), batch_size)]
        finally:
            self.net.train(was)
        self.net.set_scale(*(torch.cat([p[k] for p in parts]).double().cpu() for k in range(len(parts[0]))))

    @torch.no_grad()
    def recon_error(self, x: torch.Tensor, batch_size: int = 256) -> float:
        """Mean reconstruction error (the checkpoint-choice criterion) of `x`, in eval mode."""
        was = self.net.training
        self.net.eval()
        try:
            total = sum(float(self.net.recon_error(x[i:i + batch_size].to(self.device).float()).sum())
                        for i in range(0, len(x), batch_size))
        finally:
            self.net.train(was)
        return total / max(len(x), 1)
