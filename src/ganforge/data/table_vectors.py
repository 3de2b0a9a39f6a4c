"""Table rows as plain numeric vectors, for models that score rows (anomaly detection).

Column kinds come from `plan_columns` (as for TabularGAN). Numbers and dates are centred on the
median and scaled by the interquartile range (robust to the outliers being looked for; values
are not clipped, so an extreme value stays extreme); a column with missing values gains a
0/1 "missing" flag. Categories become one-hots of the values seen at fit time: an unseen value
is all zeros, which itself reads as unusual. The encoding is JSON, kept with the model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..io.errors import GanforgeError
from .table_columns import plan_columns

MAX_CATEGORIES = 100


def _numbers(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        t = pd.to_datetime(s, errors="coerce", format="mixed")
        return ((t - pd.Timestamp(0)).dt.total_seconds() / 86400.0).to_numpy(np.float64)  # days; NaT -> NaN
    return pd.to_numeric(s, errors="coerce").to_numpy(np.float64)


def fit_vectors(df: pd.DataFrame) -> tuple[dict, list[str]]:
    """(encoding, notes) for `df`: one entry per column that is modelled."""
    plan, notes = plan_columns(df)
    columns = []
    for name, p in plan.items():
        kind, s = p["kind"], df[name]
        if kind in ("continuous", "datetime"):
            v = _numbers(s, kind)
            q1, med, q3 = np.nanpercentile(v, [25, 50, 75])
            scale = float(q3 - q1) or float(np.nanstd(v)) or 1.0
            columns.append({"name": str(name), "kind": "number", "datetime": kind == "datetime",
                            "centre": float(med), "scale": scale, "missing": bool(np.isnan(v).any())})
        elif kind == "categorical":
            values = s.dropna().astype(str).value_counts()
            if len(values) > MAX_CATEGORIES:
                notes.append(f"column '{name}' has {len(values)} categories: the {MAX_CATEGORIES} most "
                             f"frequent are kept, the others read as unseen")
            columns.append({"name": str(name), "kind": "category",
                            "values": [str(v) for v in values.index[:MAX_CATEGORIES]],
                            "missing": bool(s.isna().any())})
    return {"columns": columns}, notes


def encode_vectors(df: pd.DataFrame, enc: dict) -> np.ndarray:
    """float32 (rows, width) for `df` under the encoding fitted by `fit_vectors`."""
    missing = [c["name"] for c in enc["columns"] if c["name"] not in df.columns.astype(str)]
    if missing:
        raise GanforgeError(f"the table lacks column '{missing[0]}' that the model was fitted on; "
                            f"pass rows with the same columns")
    df = df.set_axis(df.columns.astype(str), axis=1)
    parts = []
    for c in enc["columns"]:
        s = df[c["name"]]
        if c["kind"] == "number":
            v = _numbers(s, "datetime" if c["datetime"] else "continuous")
            if not c["missing"] and np.isnan(v).any():
                bad = s[np.isnan(v)].iloc[0]
                raise GanforgeError(f"column '{c['name']}' has a value that is not a number ({bad!r}) "
                                    f"where the fitted data had none")
            nan = np.isnan(v)
            parts.append(((np.where(nan, c["centre"], v) - c["centre"]) / c["scale"])[:, None])
            if c["missing"]:
                parts.append(nan[:, None].astype(np.float64))
        else:
            text = s.astype(str).where(s.notna(), None)
            parts.append(np.stack([(text == v).to_numpy() for v in c["values"]], 1).astype(np.float64))
            if c["missing"]:
                parts.append(s.isna().to_numpy()[:, None].astype(np.float64))
    return np.concatenate(parts, 1).astype(np.float32)
