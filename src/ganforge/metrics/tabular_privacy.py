"""Privacy of a synthetic table: distance to closest record, exact copies, membership inference.

Row space: each continuous column scaled to [0, 1] by the real training min/max (a missing
value -> 0 plus a missing flag of 1), each categorical one-hot scaled by 1/sqrt(2), so a
different category adds 1 to the squared distance. Euclidean distance.
DCR: for up to 5,000 synthetic rows, the distance to the closest training row; the reference
is the same for up to 5,000 real holdout rows (data the model never saw). Synthetic rows much
closer than holdout rows are a sign of memorisation.
Exact copies: share of all synthetic rows equal to some training row on every column (the
holdout's own share is the reference: real tables repeat rows too).
Membership inference: score each of m training rows (members) and m holdout rows (non-members)
by minus the distance to its closest synthetic row; AUROC of members vs non-members
(0.5 = the synthetic table gives the attacker nothing).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.table_transform import numeric_values
from .tabular import _cat, column_kinds

PRIVACY_PROTOCOL = ("rows as [0,1]-scaled continuous + one-hot/sqrt2 categorical, Euclidean; "
                    "DCR on <=5000 synthetic vs <=5000 holdout rows to the training table; exact "
                    "copies over all synthetic rows; MIA AUROC on m train vs m holdout rows scored "
                    "by -distance to the closest synthetic row (m <= 2000)")


class RowSpace:
    """Fitted on the training table; embeds any table with the same columns."""

    def __init__(self, train: pd.DataFrame, kinds: dict, plan: dict):
        self.kinds, self.plan, self.lim, self.cats = kinds, plan, {}, {}
        for c, k in kinds.items():
            if k == "continuous":
                v = numeric_values(train[c], plan[c])
                lo, hi = np.nanmin(v), np.nanmax(v)
                self.lim[c] = (lo, hi - lo if hi > lo else 1.0)
            else:
                self.cats[c] = {v: i for i, v in enumerate(sorted(_cat(train[c]).unique()))}

    def embed(self, df: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, k in self.kinds.items():
            if k == "continuous":
                v = numeric_values(df[c], self.plan[c])
                lo, span = self.lim[c]
                miss = np.isnan(v)
                parts += [np.where(miss, 0.0, (v - lo) / span)[:, None], miss[:, None].astype(float)]
            else:
                lookup = self.cats[c]
                codes = _cat(df[c]).map(lookup).fillna(-1).to_numpy(int)
                oh = np.zeros((len(df), len(lookup)))
                ok = codes >= 0
                oh[np.flatnonzero(ok), codes[ok]] = 1 / np.sqrt(2)
                parts.append(oh)
        return np.concatenate(parts, 1).astype(np.float32)


def nearest(queries: np.ndarray, reference: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Distance from each query row to its closest reference row (chunked torch.cdist)."""
    import torch
    ref = torch.from_numpy(reference)
    out = [torch.cdist(torch.from_numpy(queries[i:i + chunk]), ref).min(1).values
           for i in range(0, len(queries), chunk)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def exact_copies(train: pd.DataFrame, synth: pd.DataFrame, columns: list[str]) -> float:
    """Share of `synth` rows equal to a `train` row on every column (64-bit row hashes)."""
    key = lambda df: pd.util.hash_pandas_object(pd.DataFrame({c: _cat(df[c]) for c in columns}), index=False)
    return float(key(synth).isin(set(key(train).to_numpy())).mean())


def privacy(train: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame | None = None,
            discrete: list[str] | None = None, seed: int = 0) -> dict:
    kinds, plan = column_kinds(train, discrete)
    rng = np.random.default_rng(seed)
    pick = lambda df, k: df.iloc[rng.choice(len(df), min(k, len(df)), replace=False)]
    space = RowSpace(train, kinds, plan)
    tr = space.embed(train)
    syn = space.embed(pick(synth, 5000))
    dcr_syn = nearest(syn, tr)
    out = {"exact_copies": exact_copies(train, synth, list(kinds)),
           "dcr_synthetic_median": float(np.median(dcr_syn)),
           "dcr_synthetic_p05": float(np.quantile(dcr_syn, 0.05)), "protocol": PRIVACY_PROTOCOL}
    if holdout is not None:
        ho = space.embed(pick(holdout, 5000))
        dcr_ho = nearest(ho, tr)
        out.update(exact_copies_holdout=exact_copies(train, holdout, list(kinds)),
                   dcr_holdout_median=float(np.median(dcr_ho)),
                   dcr_holdout_p05=float(np.quantile(dcr_ho, 0.05)),
                   closer_than_holdout_p05=float((dcr_syn < np.quantile(dcr_ho, 0.05)).mean()))
        from sklearn.metrics import roc_auc_score
        m = min(2000, len(train), len(holdout))
        syn_ref = space.embed(pick(synth, 10000))
        members, others = space.embed(pick(train, m)), space.embed(pick(holdout, m))
        scores = -np.concatenate([nearest(members, syn_ref), nearest(others, syn_ref)])
        out["mia_auroc"] = float(roc_auc_score(np.r_[np.ones(m), np.zeros(m)], scores))
    return out
