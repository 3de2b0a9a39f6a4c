"""Reading a table safely and deciding what each column is (with one-line reasons to show users).

Every problem that stops a fit is a GanforgeError raised *before* anything is written.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.errors import GanforgeError
from .registry import names as builtin_names

MIN_ROWS = 10            # below this a GAN has nothing to learn from
AUTO_DISCRETE_MAX = 10   # numeric columns with at most this many distinct values -> categorical
ID_MIN_ROWS = 20         # a unique-per-row text/integer column is only "ID-like" in a real table
DATE_RE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$")


def read_csv(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A CSV as a DataFrame, with clear errors for the usual ways a file is broken."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"file {path} does not exist; check the path")
    if path.stat().st_size == 0:
        raise GanforgeError(f"file {path} is empty; pass a CSV with a header row and data rows")
    try:
        df = pd.read_csv(path, encoding=encoding, skipinitialspace=True)
    except UnicodeDecodeError as e:
        raise GanforgeError(f"file {path} is not valid {encoding} text (byte 0x{e.object[e.start]:02x} at "
                            f"offset {e.start}); re-save it as UTF-8 or pass --encoding latin-1") from None
    except pd.errors.EmptyDataError:
        raise GanforgeError(f"file {path} has no columns; pass a CSV with a header row and data rows") from None
    except pd.errors.ParserError as e:
        raise GanforgeError(f"cannot parse {path} as CSV ({str(e).strip().splitlines()[-1]}); "
                            f"check the delimiter and quoting") from None
    _refuse_duplicate_header(path, encoding)
    return df


def _refuse_duplicate_header(path: Path, encoding: str) -> None:
    """pandas renames a repeated column name to `name.1`: read the header as written."""
    try:
        with open(path, encoding=encoding, newline="") as f:
            names = [n.strip().lstrip("\ufeff") for n in next(csv.reader(f), [])]
    except (csv.Error, UnicodeError):  # pandas read it; this stricter reader may not
        return
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise GanforgeError(f"{path} has the column name '{dup[0]}' more than once; rename one of them")


def check_table(df: pd.DataFrame, what: str = "the table") -> None:
    if df.shape[1] == 0:
        raise GanforgeError(f"{what} has no columns; pass a CSV with a header row")
    if len(df) < MIN_ROWS:
        raise GanforgeError(f"{what} has {len(df)} row(s); a synthesizer needs at least {MIN_ROWS} "
                            f"rows to learn from")
    dup = df.columns[df.columns.duplicated()].tolist()
    if dup:
        raise GanforgeError(f"{what} has duplicate column name '{dup[0]}'; rename it")


def _integral(v: np.ndarray) -> bool:
    return bool(len(v)) and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def _looks_datetime(s: pd.Series) -> dict | None:
    vals = s.dropna().astype(str)
    if not len(vals) or not vals.head(200).map(lambda x: bool(DATE_RE.match(x))).all():
        return None
    fmt = pd.tseries.api.guess_datetime_format(vals.iloc[0])
    t = pd.to_datetime(vals, errors="coerce", format=fmt or "mixed")
    if t.isna().any():
        return None
    date_only = bool((t == t.dt.normalize()).all())
    return {"kind": "datetime", "format": fmt, "date_only": date_only}


def plan_columns(df: pd.DataFrame, discrete: list[str] | None = None) -> tuple[dict, list[str]]:
    """Decide each column's kind. Returns (plan, notes): plan[col] = {"kind": ..., ...};
    notes are one-line explanations of what was detected, for the user."""
    check_table(df)
    unknown = [c for c in (discrete or []) if c not in df.columns]
    if unknown:
        raise GanforgeError(f"--discrete names unknown column '{unknown[0]}'; columns are: "
                            f"{', '.join(map(str, df.columns))}")
    plan, notes, n = {}, [], len(df)
    for name in df.columns:
        s = df[name]
        nonnull = s.dropna()
        nuniq = nonnull.nunique()
        if nuniq == 0:
            plan[name] = {"kind": "missing"}
            notes.append(f"column '{name}' is entirely empty: it is kept empty in samples")
            continue
        if nuniq == 1:
            plan[name] = {"kind": "constant"}
            notes.append(f"column '{name}' is constant ({nonnull.iloc[0]!r}): it is copied, not modelled")
            continue
        if discrete is not None and name in discrete:
            plan[name] = {"kind": "categorical"}
            continue
        if pd.api.types.is_bool_dtype(s):
            plan[name] = {"kind": "categorical"}
            continue
        numeric = pd.api.types.is_numeric_dtype(s)
        if not numeric:
            as_num = pd.to_numeric(nonnull.astype(str).str.strip(), errors="coerce")
            frac = float(as_num.notna().mean())
            if frac == 1.0:
                numeric = True
            elif frac >= 0.5:
                bad = nonnull[as_num.isna()].iloc[0]
                raise GanforgeError(f"column '{name}' mixes numbers and text (e.g. {bad!r}); clean it, "
                                    f"or pass --discrete {name} to treat every value as a category")
        if numeric:
            v = pd.to_numeric(nonnull, errors="coerce").to_numpy(np.float64)
            if np.isinf(v).any():
                raise GanforgeError(f"column '{name}' holds {int(np.isinf(v).sum())} infinite value(s); replace "
                                    f"them with numbers or leave the cells empty (missing values are modelled)")
            integral = _integral(v)
            if integral and nuniq == n and n >= ID_MIN_ROWS and not pd.api.types.is_float_dtype(s):
                plan[name] = {"kind": "excluded"}
                notes.append(f"column '{name}' has a unique integer per row (an ID?): excluded from "
                             f"the model and from samples")
            elif discrete is None and nuniq <= AUTO_DISCRETE_MAX:
                plan[name] = {"kind": "categorical"}
                notes.append(f"column '{name}': {nuniq} distinct numbers -> categorical "
                             f"(pass --discrete to choose yourself)")
            else:
                plan[name] = {"kind": "continuous", "integer": integral}
            continue
        dt = _looks_datetime(s)
        if dt:
            plan[name] = dt
            notes.append(f"column '{name}' -> datetime ({dt['format'] or 'mixed formats'})")
            continue
        if nuniq == n and n >= ID_MIN_ROWS:
            plan[name] = {"kind": "excluded"}
            notes.append(f"column '{name}' has a unique text value per row (an ID?): excluded "
                         f"from the model and from samples")
            continue
        plan[name] = {"kind": "categorical"}
    modelled = [c for c, p in plan.items() if p["kind"] in ("continuous", "categorical", "datetime")]
    if not modelled:
        raise GanforgeError("no column is left to model (all are constant, empty or IDs); "
                            "pass a table with varying columns")
    return plan, notes


def describe_plan(plan: dict) -> str:
    """'continuous: a, b; categorical: c; ...' — the one-line summary a fit prints."""
    groups: dict[str, list[str]] = {}
    for name, p in plan.items():
        groups.setdefault(p["kind"], []).append(str(name))
    return "; ".join(f"{k} ({len(v)}): {', '.join(v)}" for k, v in groups.items())


# ---- built-in demo table ------------------------------------------------------------------


def load_demo(name: str) -> pd.DataFrame:
    """Fair's affairs survey (statsmodels, 6,366 rows), with its coded columns given their
    documented labels so it is a real mixed-type table: 4 categorical, 5 numeric columns."""
    if name != "fair":
        raise GanforgeError(f"unknown demo table '{name}'; built-in tables: {', '.join(builtin_names('table'))}")
    from statsmodels.datasets import fair
    df = fair.load_pandas().data.copy()
    rate = {1: "very poor", 2: "poor", 3: "fair", 4: "good", 5: "very good"}
    relig = {1: "not", 2: "mildly", 3: "fairly", 4: "strongly"}
    occ = {1: "student", 2: "farming/semi-skilled/unskilled", 3: "white-collar",
           4: "teacher/nurse/artist/technician", 5: "managerial/business", 6: "professional"}
    df["rate_marriage"] = df["rate_marriage"].astype(int).map(rate)
    df["religious"] = df["religious"].astype(int).map(relig)
    df["occupation"] = df["occupation"].astype(int).map(occ)
    df["occupation_husb"] = df["occupation_husb"].astype(int).map(occ)
    df["educ"] = df["educ"].astype(int)
    return df


def load_table(spec, encoding: str = "utf-8") -> tuple[pd.DataFrame, str]:
    """A DataFrame, a built-in demo name, or a CSV path -> (DataFrame, name)."""
    if isinstance(spec, pd.DataFrame):
        return spec, "dataframe"
    spec = str(spec)
    if spec in builtin_names("table") and not Path(spec).exists():
        return load_demo(spec), spec
    return read_csv(spec, encoding), Path(spec).stem
