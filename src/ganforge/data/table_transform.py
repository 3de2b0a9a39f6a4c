"""Per-column transforms between a table and the float matrix the GAN sees, stored as JSON.

Continuous (and datetime) columns: mode-specific normalisation as published for CTGAN (Xu et
al. 2019): a variational Gaussian mixture per column, each value encoded as a one-hot of a mode
sampled from its posterior plus a scalar alpha = (v - mu_k) / (4 sd_k) in [-1, 1]. The mixture
is fitted on a subsample (at most `fit_rows` values), and the encoding is vectorised numpy, so
big tables do not stall here. Categorical: one-hot. A column with missing values gets a 2-way
"missing" block, so missingness is generated at the real rate. Decoding takes the argmax of
every one-hot block, clips to the real [min, max] and rounds integer columns.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

NAN_TOKEN = None  # a missing category is stored as JSON null


def _py(v):
    """A JSON-safe Python scalar from a numpy/pandas scalar."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def fit_mixture(values: np.ndarray, max_modes: int, fit_rows: int, seed: int) -> dict:
    """Standardise, fit a Bayesian GMM on a subsample, keep modes with weight > 0.5%."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture
    mean, sd = float(values.mean()), float(values.std()) or 1.0
    z = (values - mean) / sd
    rng = np.random.default_rng(seed)
    sub = rng.choice(z, fit_rows, replace=False) if len(z) > fit_rows else z
    k = int(min(max_modes, len(np.unique(sub))))
    if k <= 1:
        return {"mean": mean, "sd": sd, "mu": [0.0], "sigma": [1.0], "weight": [1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = BayesianGaussianMixture(n_components=k, weight_concentration_prior_type="dirichlet_process",
                                     weight_concentration_prior=1e-3, max_iter=100, n_init=1,
                                     reg_covar=1e-6, random_state=seed).fit(sub[:, None])
    keep = gm.weights_ > 0.005
    w = gm.weights_[keep] / gm.weights_[keep].sum()
    out = {"mean": mean, "sd": sd, "mu": gm.means_[keep, 0].tolist(),
           "sigma": np.sqrt(gm.covariances_[keep].reshape(-1)).clip(1e-3).tolist(), "weight": w.tolist()}
    # A mode that is (>= 90%) one exact value, like the 0 of a zero-inflated column, decodes to
    # exactly that value: alpha * 4 * sigma would otherwise smear the spike into near-values.
    assign = _mode_logp(sub, out).argmax(1)
    out["point"] = [None] * len(w)
    for k in range(len(w)):
        vals, counts = np.unique(sub[assign == k], return_counts=True)
        if counts.sum() >= 0.01 * len(sub) and counts.max() >= 0.9 * counts.sum():
            out["point"][k] = float(vals[counts.argmax()] * sd + mean)
    return out


def _mode_logp(z: np.ndarray, gm: dict) -> np.ndarray:
    mu, sig, w = (np.asarray(gm[k]) for k in ("mu", "sigma", "weight"))
    return -0.5 * ((z[:, None] - mu) / sig) ** 2 - np.log(sig) + np.log(w)


class TableTransformer:
    """Fitted from a table and a column plan; `encode(df) -> float32 (N, D)`, `decode(M) -> df`."""

    def __init__(self, columns: list[dict]):
        self.columns = columns        # one JSON dict per column (see fit)

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, df: pd.DataFrame, plan: dict[str, dict], max_modes: int = 10,
            fit_rows: int = 5000, seed: int = 0) -> "TableTransformer":
        """`plan` maps column -> {"kind": continuous|categorical|datetime|constant|excluded, ...}."""
        cols = []
        for name in df.columns:
            p = dict(plan[name])
            s = df[name]
            c = {"name": name, "kind": p["kind"], "missing_rate": float(s.isna().mean()),
                 **{k: v for k, v in p.items() if k != "kind"}}
            if c["kind"] in ("continuous", "datetime"):
                v = numeric_values(s, c)
                ok = v[~np.isnan(v)]
                c.update(min=float(ok.min()), max=float(ok.max()),
                         gmm=fit_mixture(ok, max_modes, fit_rows, seed))
            elif c["kind"] == "categorical":
                counts = s.astype(object).where(s.notna(), None).value_counts(dropna=False)
                c["categories"] = [_py(v) for v in counts.index]
                c["frequencies"] = (counts.to_numpy() / counts.sum()).tolist()
            elif c["kind"] == "constant":
                c["value"] = _py(s.dropna().iloc[0]) if s.notna().any() else None
            cols.append(c)
        return cls(cols)

    # ---- layout --------------------------------------------------------------------------
    def blocks(self) -> list[dict]:
        """Output blocks in matrix order: {"column", "part": alpha|mode|missing|category,
        "start", "size", "act": tanh|softmax}. The GAN applies `act` per block."""
        out, pos = [], 0
        for c in self.columns:
            parts = []
            if c["kind"] in ("continuous", "datetime"):
                parts = [("alpha", 1, "tanh"), ("mode", len(c["gmm"]["mu"]), "softmax")]
                if c["missing_rate"] > 0:
                    parts.append(("missing", 2, "softmax"))
            elif c["kind"] == "categorical":
                parts = [("category", len(c["categories"]), "softmax")]
            for part, size, act in parts:
                out.append({"column": c["name"], "part": part, "start": pos, "size": size, "act": act})
                pos += size
        return out

    @property
    def width(self) -> int:
        b = self.blocks()
        return b[-1]["start"] + b[-1]["size"] if b else 0

    def discrete_columns(self) -> list[dict]:
        return [c for c in self.columns if c["kind"] == "categorical"]

    # ---- encode / decode -----------------------------------------------------------------
    def encode(self, df: pd.DataFrame, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n = len(df)
        parts = []
        for c in self.columns:
            if c["kind"] in ("continuous", "datetime"):
                v = numeric_values(df[c["name"]], c)
                miss = np.isnan(v)
                gm = c["gmm"]
                z = (np.where(miss, c["min"], v) - gm["mean"]) / gm["sd"]
                logp = _mode_logp(z, gm)
                prob = np.exp(logp - logp.max(1, keepdims=True))
                prob /= prob.sum(1, keepdims=True)
                # sample a mode from the posterior (vectorised inverse-CDF draw)
                mode = (prob.cumsum(1) < rng.random((n, 1))).sum(1).clip(0, prob.shape[1] - 1)
                mu, sig = np.asarray(gm["mu"])[mode], np.asarray(gm["sigma"])[mode]
                alpha = np.clip((z - mu) / (4 * sig), -0.99, 0.99)
                onehot = np.eye(len(gm["mu"]), dtype=np.float32)[mode]
                parts += [alpha[:, None], onehot]
                if c["missing_rate"] > 0:
                    parts.append(np.stack([~miss, miss], 1).astype(np.float32))
            elif c["kind"] == "categorical":
                parts.append(np.eye(len(c["categories"]), dtype=np.float32)[self.category_codes(df[c["name"]], c)])
        return np.concatenate(parts, 1).astype(np.float32) if parts else np.zeros((n, 0), np.float32)

    @staticmethod
    def category_codes(s: pd.Series, c: dict) -> np.ndarray:
        """Index of each value in c["categories"] (values not seen in fit -> most frequent)."""
        lookup = {category_key(v): i for i, v in enumerate(c["categories"])}
        return np.fromiter((lookup.get(category_key(v), 0) for v in s.astype(object)), np.int64, len(s))

    def decode(self, m: np.ndarray, seed: int = 0) -> pd.DataFrame:
        """Matrix of activated outputs (alphas in [-1,1], one-hot or probability blocks) -> table."""
        out, pos, n = {}, 0, len(m)
        rng = np.random.default_rng(seed)
        for c in self.columns:
            kind = c["kind"]
            if kind in ("continuous", "datetime"):
                gm, k = c["gmm"], len(c["gmm"]["mu"])
                alpha, mode = m[:, pos], m[:, pos + 1:pos + 1 + k].argmax(1)
                pos += 1 + k
                z = alpha.clip(-1, 1) * 4 * np.asarray(gm["sigma"])[mode] + np.asarray(gm["mu"])[mode]
                v = np.clip(z * gm["sd"] + gm["mean"], c["min"], c["max"])
                point = np.array([np.nan if p is None else p for p in gm.get("point", [None] * k)])[mode]
                v = np.where(np.isnan(point), v, point)
                if c.get("integer") or kind == "datetime":
                    v = np.round(v)
                miss = np.zeros(n, bool)
                if c["missing_rate"] > 0:
                    miss = m[:, pos + 1] > m[:, pos]
                    pos += 2
                out[c["name"]] = restore_values(np.where(miss, np.nan, v), c)
            elif kind == "categorical":
                k = len(c["categories"])
                codes = m[:, pos:pos + k].argmax(1)
                pos += k
                out[c["name"]] = _category_series(c["categories"], codes)
            elif kind == "constant":  # copied, with missing values at the real rate
                miss = rng.random(n) < c["missing_rate"]
                out[c["name"]] = pd.Series([None if x else c["value"] for x in miss], dtype=object)
            elif kind == "missing":
                out[c["name"]] = pd.Series([None] * n, dtype=object)
        return pd.DataFrame(out)

    # ---- JSON ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"version": 1, "columns": self.columns}

    @classmethod
    def from_json(cls, d: dict) -> "TableTransformer":
        return cls(d["columns"])


def category_key(v):
    """Hashable lookup key that treats NaN/None alike and 3 == 3.0 == '3'-free of dtype drift."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def numeric_values(s: pd.Series, c: dict) -> np.ndarray:
    """Column -> float64 with NaN for missing; datetimes as seconds since the epoch."""
    if c["kind"] == "datetime":
        t = pd.to_datetime(s, errors="coerce", format=c.get("format") or "mixed")
        secs = (t - pd.Timestamp("1970-01-01")).dt.total_seconds()
        return secs.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def restore_values(v: np.ndarray, c: dict) -> pd.Series:
    """Float64 values back to the column's type: ints (nullable if missing) or datetimes."""
    if c["kind"] == "datetime":
        t = pd.Series(pd.to_datetime(v, unit="s", errors="coerce"))
        fmt = c.get("format") or ("%Y-%m-%d" if c.get("date_only") else "%Y-%m-%d %H:%M:%S")
        return t.dt.strftime(fmt).astype(object).where(t.notna(), None)
    if c.get("integer"):
        return pd.Series(v).round().astype("Int64")
    return pd.Series(v)


def _category_series(categories: list, codes: np.ndarray) -> pd.Series:
    """Categories by code, typed like the source: numbers stay numbers (ints as Int64)."""
    vals = [v for v in categories if v is not None]
    s = pd.Series(np.array(categories, dtype=object)[codes], dtype=object)
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        num = pd.to_numeric(s)
        return num.round().astype("Int64") if all(isinstance(v, int) for v in vals) else num
    return s
