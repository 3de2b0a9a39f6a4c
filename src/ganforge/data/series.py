"""Time series as windows: (N, T, F) float32 in [0, 1] per feature, with a length per window.

Sources (`read_series`):
- built-in `sines` (TimeGAN's generator: 10,000 windows of 5 sines, random frequency and
  phase in [0, 0.1)), `sp500` and `nasdaq` (daily open/high/low/close/adj close/volume,
  1999-2018, shipped in the `arch` package's wheel: arch.data.sp500 / arch.data.nasdaq);
- a wide CSV: a time column and numeric feature columns, one series;
- a long CSV: also a series id column (`series_id`, `series`, `id`), one series per id;
- a `.npz`: an (N, T, F) array of windows (`series`, `x` or the only 3-D array; trailing rows
  of NaN are padding), optional `lengths` (N,) and `columns`; or a (T, F) array, one series.

Handling, stated in the data's info and in docs: the time column is the one named time, date,
datetime, timestamp, step or t (any case), else the first column when it holds dates; without one,
rows are taken in file order. Rows are sorted by time. A step is a row, not a clock interval:
weekends between trading days are fine, but a gap over 10x the median step would join distant
periods in one window and is refused, as are duplicate stamps and missing values (fill or drop
them first). Series are cut into sliding windows of `window` rows (stride 1); in a long CSV a
series shorter than the window gives one shorter window, padded at the end and masked by its
length. Scaling is min-max per feature over all rows (TimeGAN's), saved with the run so samples
come back in the original units.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io.errors import GanforgeError
from .base import Dataset, ShuffledStream

DEFAULT_WINDOW = 24
TIME_NAMES = ("time", "date", "datetime", "timestamp", "step", "t")
ID_NAMES = ("series_id", "series", "id")
MAX_GAP = 10  # x the median step
EPS = 1e-7   # TimeGAN's MinMaxScaler denominator guard


@dataclass
class SeriesDataset(Dataset):
    """Windows in [0, 1]; `lengths` (N,) int64 says how many leading steps of each are real.
    Batches are (windows, lengths)."""
    lengths: torch.Tensor | None = None

    def stream(self, batch_size: int, seed: int) -> ShuffledStream:
        return ShuffledStream(self.x, self.lengths, batch_size, seed)


def sines(n: int = 10000, seq_len: int = DEFAULT_WINDOW, dim: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's sine data: per window and feature, sin(f t + p) with f, p ~ U[0, 0.1), in [0, 1]."""
    rng = np.random.default_rng(seed)
    f, p = rng.uniform(0, 0.1, (2, n, 1, dim))
    t = np.arange(seq_len, dtype=np.float64)[None, :, None]
    return ((np.sin(f * t + p) + 1) * 0.5).astype(np.float32)


def stock_frame(name: str):
    """Daily OHLCV of the S&P 500 or NASDAQ composite, 1999-2018, as shipped in the arch wheel
    (arch/data/<name>/<name>.csv.gz, read directly: importing arch itself takes seconds)."""
    import importlib.util

    import pandas as pd
    spec = importlib.util.find_spec("arch")
    if spec is None or not spec.submodule_search_locations:
        raise GanforgeError(f"built-in '{name}' comes with the `arch` package; pip install arch")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / name / f"{name}.csv.gz"
    return pd.read_csv(path)


def read_series(spec: str, window: int | None = None) -> SeriesDataset:
    """A built-in name, a CSV (wide or long) or a .npz -> windows in [0, 1] with lengths."""
    from . import registry
    if window is not None and window < 2:
        raise GanforgeError(f"--window must be at least 2 time steps, got {window}")
    entry = registry.builtin_of_kind(spec, "series", "a time series", "a .csv / .npz file")
    if spec == "sines":
        x = sines(seq_len=window or DEFAULT_WINDOW)
        return _windows_dataset("sines", x, None, [f"sine{i + 1}" for i in range(x.shape[-1])],
                                {"source": entry.description})
    if entry is not None:
        return _from_frame(spec, stock_frame(spec), window or DEFAULT_WINDOW, entry.description)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".npz"):
        raise GanforgeError(f"cannot read '{spec}' as time series: pass a built-in name "
                            f"({', '.join(registry.names('series'))}), a .csv or a .npz file")
    if not path.is_file():
        raise GanforgeError(f"file {path} does not exist; check the path")
    if suffix == ".npz":
        return _from_npz(path, window)
    from .table_columns import read_csv
    return _from_frame(path.name, read_csv(path), window or DEFAULT_WINDOW, f"CSV file {path.name}")


# ---- CSV / data frames ---------------------------------------------------------------------
def _named(columns, names) -> str | None:
    low = {str(c).strip().lower(): c for c in columns}
    return next((low[n] for n in names if n in low), None)


def _parse_time(col, what: str):
    import pandas as pd
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(np.float64), "numeric"
    t = pd.to_datetime(col, errors="coerce")
    bad = t.isna() & col.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise GanforgeError(f"{what}: time column '{col.name}' has a value that is neither a date nor a number "
                            f"(row {i + 1}: {col.iloc[i]!r}); fix it or drop the column")
    return t.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64), "dates"


def _first_is_dates(df) -> bool:
    import pandas as pd
    c = df.iloc[:, 0]
    if pd.api.types.is_numeric_dtype(c):
        return False
    return bool(pd.to_datetime(c.head(50), errors="coerce").notna().all())


def _check_times(t: np.ndarray, what: str, tname: str, kind: str) -> None:
    d = np.diff(t)
    if (d == 0).any():
        raise GanforgeError(f"{what}: time column '{tname}' repeats a time stamp (row {int(np.argmax(d == 0)) + 2} "
                            f"after sorting); one row per time step, or add a series_id column for several series")
    if not len(d):
        return
    med = float(np.median(d))
    big = np.flatnonzero(d > MAX_GAP * med)
    if len(big):
        i = int(big[0])
        unit = 86400e9 if kind == "dates" else 1.0
        raise GanforgeError(f"{what}: time column '{tname}' jumps by {d[i] / unit:g} {'days' if kind == 'dates' else 'units'} "
                            f"after sorted row {i + 1}, over {MAX_GAP}x its usual step ({med / unit:g}); a window would "
                            f"join distant periods: fill the gap, or split the series with a series_id column")


def _from_frame(name: str, df, window: int, source: str) -> SeriesDataset:
    import pandas as pd
    what = name
    if len(df) == 0 or df.shape[1] == 0:
        raise GanforgeError(f"{what} has no data rows; pass a CSV with a header row and one row per time step")
    id_col = _named(df.columns, ID_NAMES)
    time_col = _named([c for c in df.columns if c != id_col], TIME_NAMES)
    if time_col is None and id_col is None and _first_is_dates(df):
        time_col = df.columns[0]
    features = [c for c in df.columns if c not in (id_col, time_col)]
    if not features:
        raise GanforgeError(f"{what} has no feature columns besides time/id; add the numeric columns to model")
    for c in features:
        if not pd.api.types.is_numeric_dtype(df[c]):
            vals = pd.to_numeric(df[c], errors="coerce")
            i = int(np.flatnonzero((vals.isna() & df[c].notna()).to_numpy())[0])
            raise GanforgeError(f"{what}: column '{c}' is not numeric (row {i + 1}: {df[c].iloc[i]!r}); "
                                f"timegan models numeric features: drop or encode that column")
    missing = df[features].isna().to_numpy()
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise GanforgeError(f"{what} has {int(missing.sum())} missing value(s) (first: row {r + 1}, column "
                            f"'{features[c]}'); fill them (e.g. pandas interpolate) or drop those rows first")
    groups = [df] if id_col is None else [g for _, g in df.groupby(id_col, sort=False)]
    series, notes = [], []
    for g in groups:
        if time_col is not None:
            t, kind = _parse_time(g[time_col], what)
            order = np.argsort(t, kind="stable")
            if (order != np.arange(len(t))).any() and "sorted" not in notes:
                notes.append("sorted")
            _check_times(t[order], what + (f" (series {g[id_col].iloc[0]!r})" if id_col else ""), str(time_col), kind)
            g = g.iloc[order]
        series.append(g[features].to_numpy(np.float64))
    longest = max(len(s) for s in series)
    if longest < window:
        raise GanforgeError(f"{what}: the {'longest series' if id_col else 'series'} has {longest} time steps, "
                            f"fewer than --window {window}; pass --window {max(2, longest)} or less")
    flat = np.concatenate(series)
    lo, hi = flat.min(0), flat.max(0)
    wins, lens = [], []
    for s in series:
        s = (s - lo) / (hi - lo + EPS)
        if len(s) < window:  # one shorter window, padded at the end (masked by its length)
            wins.append(np.pad(s, ((0, window - len(s)), (0, 0)))[None])
            lens.append([len(s)])
        else:
            v = np.lib.stride_tricks.sliding_window_view(s, window, axis=0).transpose(0, 2, 1)
            wins.append(v)
            lens.append([window] * len(v))
    x = np.concatenate(wins).astype(np.float32)
    info = {"source": source, "columns": [str(c) for c in features], "min": lo.tolist(), "max": hi.tolist(),
            "time_column": None if time_col is None else str(time_col),
            "series_column": None if id_col is None else str(id_col), "series_count": len(series),
            "windows": f"sliding windows of {window} rows, stride 1" + ("; rows sorted by time" if notes else "")}
    return _dataset(name, x, np.concatenate(lens), info)


# ---- npz ---------------------------------------------------------------------------------------
def _from_npz(path: Path, window: int | None) -> SeriesDataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the user's to fix
        raise GanforgeError(f"cannot read {path} as .npz ({str(e).splitlines()[0][:120]})") from None
    key = next((k for k in ("series", "x") if k in arrays), None)
    if key is None:
        cands = [k for k, v in arrays.items() if v.ndim in (2, 3) and k not in ("lengths", "columns")]
        key = cands[0] if len(cands) == 1 else None
    if key is None:
        raise GanforgeError(f"{path.name}: name the array 'series' (N windows x T steps x F features); "
                            f"found {', '.join(arrays) or 'nothing'}")
    x = arrays[key]
    if x.ndim not in (2, 3) or not np.issubdtype(x.dtype, np.number):
        raise GanforgeError(f"{path.name}: '{key}' must be a numeric (N, T, F) or (T, F) array, got {x.dtype} {x.shape}")
    cols = [str(c) for c in arrays["columns"]] if "columns" in arrays else [f"f{i + 1}" for i in range(x.shape[-1])]
    if len(cols) != x.shape[-1]:
        raise GanforgeError(f"{path.name}: {len(cols)} column names for {x.shape[-1]} features")
    if x.ndim == 2:  # one series: the CSV path's windows and checks
        import pandas as pd
        return _from_frame(path.name, pd.DataFrame(x, columns=cols), window or DEFAULT_WINDOW, f"npz file {path.name}")
    x = x.astype(np.float64)
    if window is not None and window != x.shape[1]:
        raise GanforgeError(f"{path.name} holds windows of {x.shape[1]} steps; drop --window (or pass --window {x.shape[1]})")
    nan_row = np.isnan(x).all(-1)
    lengths = arrays.get("lengths")
    if lengths is None:  # trailing all-NaN rows are padding
        lengths = x.shape[1] - np.cumprod(nan_row[:, ::-1], axis=1).sum(1)
    lengths = np.asarray(lengths).astype(np.int64)
    if lengths.shape != (len(x),) or (lengths < 1).any() or (lengths > x.shape[1]).any():
        raise GanforgeError(f"{path.name}: 'lengths' must hold one length in 1..{x.shape[1]} per window")
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]
    bad = np.isnan(x) & valid[..., None]
    if bad.any():
        n, t, c = np.argwhere(bad)[0]
        raise GanforgeError(f"{path.name} has {int(bad.sum())} missing value(s) inside windows (first: window {n}, "
                            f"step {t}, feature '{cols[c]}'); fill them, or mark padding with 'lengths'")
    vals = x[valid]
    lo, hi = vals.min(0), vals.max(0)
    x = np.where(valid[..., None], (np.nan_to_num(x) - lo) / (hi - lo + EPS), 0.0).astype(np.float32)
    return _dataset(path.name, x, lengths, {"source": f"npz file {path.name}", "columns": cols,
                                            "min": lo.tolist(), "max": hi.tolist(), "windows": "as given"})


def _windows_dataset(name, x, lengths, cols, info) -> SeriesDataset:
    """Windows already in [0, 1] (built-in sines): scaled like any other source."""
    lo, hi = x.reshape(-1, x.shape[-1]).min(0), x.reshape(-1, x.shape[-1]).max(0)
    x = ((x - lo) / (hi - lo + EPS)).astype(np.float32)
    lengths = np.full(len(x), x.shape[1]) if lengths is None else lengths
    return _dataset(name, x, lengths, {**info, "columns": cols, "min": lo.astype(float).tolist(),
                                       "max": hi.astype(float).tolist(), "windows": "as generated"})


def _dataset(name: str, x: np.ndarray, lengths: np.ndarray, info: dict) -> SeriesDataset:
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(x) < 2:
        raise GanforgeError(f"{name} gives {len(x)} window(s); a GAN needs many: use a shorter --window or more data")
    ls, counts = np.unique(lengths, return_counts=True)
    info = {**info, "window": int(x.shape[1]), "length_counts": [[int(a), int(b)] for a, b in zip(ls, counts)]}
    return SeriesDataset(name, "series", torch.from_numpy(np.ascontiguousarray(x)), info=info,
                         lengths=torch.from_numpy(lengths))


def scale_back(x: np.ndarray, info: dict) -> np.ndarray:
    """[0, 1] model space -> original units (inverse of the per-feature min-max scaling)."""
    lo, hi = np.asarray(info["min"]), np.asarray(info["max"])
    return x * (hi - lo + EPS) + lo
