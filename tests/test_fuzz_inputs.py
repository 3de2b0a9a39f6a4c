"""Property-based fuzzing (Hypothesis) of the readers of user files: CSV tables, .npz image
sets and option files. Whatever the bytes, a reader returns or raises GanforgeError (the CLI
prints that as one line, exit 2): never another exception, never a traceback."""
from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ganforge.data.files import load_npz
from ganforge.data.table_columns import plan_columns, read_csv
from ganforge.data.table_transform import TableTransformer
from ganforge.families import family_class
from ganforge.families.options import load_config_file, split_lr
from ganforge.io.errors import GanforgeError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def accepts_or_refuses(fn, *args):
    """True if `fn` returned, False if it raised GanforgeError; anything else fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas/numpy may warn about odd values; that is not an error path
        try:
            fn(*args)
            return True
        except GanforgeError as e:
            assert str(e) and "\n" not in str(e).strip(), "an error is one line"
            return False


def in_file(data: bytes, name: str):
    """Run with `data` written to a file called `name` in a fresh folder."""
    d = tempfile.TemporaryDirectory()
    path = Path(d.name) / name
    path.write_bytes(data)
    return d, path


# ---- CSV -------------------------------------------------------------------------------
CELLS = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e400", "NA", "null", "\ufeff", '"', '""', "a,b", "é",
                     "2024-01-31", "31/01/2024 10:00", "True", "0", "-0", "1.5", "  7 ", "\x00"]),
    st.integers(-10 ** 20, 10 ** 20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6))


@st.composite
def csv_text(draw) -> bytes:
    ncol = draw(st.integers(1, 4))
    header = [draw(st.sampled_from(["a", "b", "a", "", "x y", "\ufeffa", "1"])) for _ in range(ncol)]
    rows = [[draw(CELLS) for _ in range(draw(st.integers(ncol - 1, ncol + 1)))]
            for _ in range(draw(st.integers(0, 25)))]
    text = "\n".join(",".join(r) for r in [header, *rows])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), errors="replace")


def read_and_plan(path: Path):
    """What `tabular fit` does before training: read, plan the columns, fit the transform."""
    df = read_csv(path)
    plan, _ = plan_columns(df)
    tf = TableTransformer.fit(df, plan, max_modes=3, fit_rows=200)
    assert np.isfinite(tf.encode(df)).all()
    json.dumps(tf.to_json())


@FAST
@given(st.one_of(csv_text(), st.binary(max_size=300)))
def test_csv_reader_loads_or_refuses(data):
    d, path = in_file(data, "t.csv")
    with d:
        accepts_or_refuses(read_and_plan, path)


# ---- .npz ------------------------------------------------------------------------------
DTYPES = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(),
                   hnp.boolean_dtypes(), hnp.complex_number_dtypes(), st.just(np.dtype("U3")),
                   st.just(np.dtype("S2")), st.just(np.dtype("datetime64[s]")))


@st.composite
def npz_bytes(draw) -> bytes:
    arrays = {}
    for key in draw(st.lists(st.sampled_from(["images", "labels", "x"]), min_size=0, max_size=3, unique=True)):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5))
        arrays[key] = draw(hnp.arrays(draw(DTYPES), shape))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    raw = buf.getvalue()
    if draw(st.booleans()):  # damage it: cut or flip bytes
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=8)) + raw[cut + 1:]
    return raw


@FAST
@given(st.one_of(npz_bytes(), st.binary(max_size=200)))
def test_npz_reader_loads_or_refuses(data):
    d, path = in_file(data, "d.npz")
    with d:
        if accepts_or_refuses(load_npz, path):  # what loads is usable: finite, in [-1, 1]
            x = load_npz(path).x
            assert x.isfinite().all() and x.abs().max() <= 1 + 1e-5


# ---- option files ----------------------------------------------------------------------
OPTIONS = family_class("vanilla").Options
NAMES = OPTIONS.names() + ["lr", "stepz", "", "1"]
SCALARS = st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30) | st.floats() | st.text(max_size=5)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                          max_size=3), max_leaves=5)


def read_and_check(path: Path):
    OPTIONS.from_dict(split_lr(load_config_file(path)), "vanilla").validate()


@FAST
@given(st.dictionaries(st.sampled_from(NAMES), JSONISH, max_size=4), st.sampled_from([".json", ".yaml"]))
def test_option_file_loads_or_refuses(doc, suffix):
    text = json.dumps(doc)  # JSON is YAML too
    d, path = in_file(text.encode(), "c" + suffix)
    with d:
        accepts_or_refuses(read_and_check, path)


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode), st.sampled_from([".json", ".yaml", ".yml"]))
def test_option_file_bytes_load_or_refuse(data, suffix):
    d, path = in_file(data, "c" + suffix)
    with d:
        accepts_or_refuses(read_and_check, path)


@pytest.mark.parametrize("doc", [{"lr": float("inf")}, {"gp_weight": float("nan")}, {"betas": [0.5, 2.0]}])
def test_option_values_no_optimiser_accepts_are_refused(tmp_path, doc):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(doc).replace("Infinity", ".inf").replace("NaN", ".nan"))
    assert not accepts_or_refuses(read_and_check, path)
