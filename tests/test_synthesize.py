"""`ganforge augment` (older name: `ganforge synthesize`): a class-balanced labelled set from a cgan
run, in layouts ganforge reads back, or a tabular run's rows per category as CSV; the confidence
filter keeps only what the run's own classifier reads as the asked class."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ganforge
from ganforge.data import load_dataset


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    # 200 steps at these settings: a logistic regression reads > 90% of its digits as the asked
    # label (tests/test_learning_cgan.py)
    root = tmp_path_factory.mktemp("synth")
    return ganforge.train("digits", model="cgan", out=root / "cgan", steps=200, channels=16, seed=0,
                          progress=False, log_every=50, sample_every=200, ckpt_every=200).path


def test_a_balanced_labelled_set_in_npz_and_folder_layouts(cgan_run, cli, tmp_path):
    code, out, err = cli("augment", cgan_run, "--per-class", 7, "--out", tmp_path / "s.npz")
    assert code == 0, err
    assert "70 images (7 per class, 10 classes)" in out
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (70, 8, 8, 1) and f["images"].dtype == np.uint8
        assert f["labels"].dtype == np.int64 and np.bincount(f["labels"]).tolist() == [7] * 10
    code, out, err = cli("synthesize", cgan_run, "--per-class", 3, "--out", tmp_path / "folder")  # the old name
    assert code == 0, err
    for data in (tmp_path / "s.npz", tmp_path / "folder"):  # what `ganforge train` reads back
        ds = load_dataset(str(data), 8)
        assert ds.class_names == [str(c) for c in range(10)], data
        assert np.bincount(ds.labels.numpy()).tolist() == [7 if data.suffix else 3] * 10
    # a fresh process trains a classifier on it (nothing from this process needed)
    script = ("import sys, numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
              "f = np.load(sys.argv[1]); x = f['images'].reshape(len(f['images']), -1) / 255.0\n"
              "print(LogisticRegression(max_iter=500).fit(x, f['labels']).score(x, f['labels']))")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "s.npz")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and float(proc.stdout) > 0.9, proc.stderr[-500:]


def test_the_confidence_filter_keeps_what_the_runs_classifier_reads_as_the_asked_class(cgan_run):
    from sklearn.linear_model import LogisticRegression

    from ganforge.apps.synthesize import synthesize
    x, y, rep = synthesize(cgan_run, 20, min_confidence=0.9)
    assert np.bincount(y.numpy()).tolist() == [20] * 10
    real = load_dataset("digits")  # the run's data: the filter's classifier, refitted the same way
    clf = LogisticRegression(max_iter=1000).fit(real.x.flatten(1).numpy(), real.labels.numpy())
    p = clf.predict_proba(x.flatten(1).numpy())
    assert (p[np.arange(len(y)), y.numpy()] >= 0.9 - 1e-6).all()
    assert set(rep["acceptance"]) == {str(c) for c in range(10)}
    assert all(0 < a <= 1 for a in rep["acceptance"].values()) and min(rep["acceptance"].values()) < 1
    # unfiltered, the same classifier doubts some asked labels: the filter did something
    x0, y0, _ = synthesize(cgan_run, 20)
    p0 = clf.predict_proba(x0.flatten(1).numpy())
    passing = p0[np.arange(len(y0)), y0.numpy()] >= 0.9
    assert not passing.all()
    # acceptance is the share of draws that passed, as read on an unfiltered draw (not capped at
    # the 1/2 that per_class / drawn gave when draws come in rounds of twice the need)
    assert abs(np.mean(list(rep["acceptance"].values())) - passing.mean()) < 0.15, (rep["acceptance"], passing.mean())


def test_bad_synthesize_input_is_one_line_and_writes_nothing(cgan_run, cli, tmp_path):
    ganforge.train("digits", model="dcgan", out=tmp_path / "dc", steps=1, channels=4, progress=False, log_every=1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep")
    (tmp_path / "old.npz").write_bytes(b"keep")
    cases = [([tmp_path / "dc", "--per-class", 2, "--out", tmp_path / "a.npz"], "unconditional"),
             ([cgan_run, "--per-class", 0, "--out", tmp_path / "a.npz"], "--per-class must be at least 1"),
             ([cgan_run, "--per-class", 2, "--min-confidence", 1.5, "--out", tmp_path / "a.npz"],
              "--min-confidence must be between 0 and 1"),
             ([cgan_run, "--per-class", 2, "--out", tmp_path / "full"], "is not empty"),
             ([cgan_run, "--per-class", 2, "--out", tmp_path / "old.npz"], "already exists")]
    for args, message in cases:
        code, _, err = cli("augment", *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)
    assert not (tmp_path / "a.npz").exists() and (tmp_path / "old.npz").read_bytes() == b"keep"
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x.txt"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    import pandas as pd

    from ganforge.tabular import TabularGAN
    rng = np.random.default_rng(0)
    kind = rng.choice(["common", "other", "rare"], size=300, p=[0.6, 0.3, 0.1])
    df = pd.DataFrame({"size": rng.normal(size=300) + (kind == "rare") * 3, "colour": rng.choice(["r", "g"], 300),
                       "kind": kind})
    out = tmp_path_factory.mktemp("tab") / "run"
    TabularGAN(epochs=2, batch_size=100, hidden=16, z_dim=8, progress=False, verbose=False).fit(df, out=out)
    return out


def test_a_table_run_gives_rows_per_category_of_its_label_column_as_csv(table_run, cli, tmp_path):
    import pandas as pd

    import ganforge.augment
    code, out, err = cli("augment", table_run, "--per-class", 6, "--label", "kind", "--out", tmp_path / "s.csv")
    assert code == 0, err
    assert "18 rows of 'kind' (6 per class, 3 classes)" in out
    df = pd.read_csv(tmp_path / "s.csv")
    assert list(df.columns) == ["size", "colour", "kind"]
    assert df["kind"].value_counts().to_dict() == {"common": 6, "other": 6, "rare": 6}
    rows, rep = ganforge.augment.synthesize_rows(table_run, 6, "kind")  # the Python API, same rows
    assert rep["classes"] == ["common", "other", "rare"]
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), df, check_dtype=False, atol=1e-4)


def test_bad_augment_input_for_tables_is_one_line_and_writes_nothing(table_run, cgan_run, cli, tmp_path):
    cases = [([table_run, "--per-class", 2, "--out", tmp_path / "a.csv"], "needs --label COLUMN"),
             ([table_run, "--per-class", 2, "--label", "size", "--out", tmp_path / "a.csv"], "cannot use --label 'size'"),
             ([table_run, "--per-class", 2, "--label", "nope", "--out", tmp_path / "a.csv"], "no such column"),
             ([table_run, "--per-class", 0, "--label", "kind", "--out", tmp_path / "a.csv"], "at least 1"),
             ([table_run, "--per-class", 2, "--label", "kind", "--out", tmp_path / "a.npz"], "must end in .csv"),
             ([table_run, "--per-class", 2, "--label", "kind", "--min-confidence", 0.5, "--out", tmp_path / "a.csv"],
              "drop --min-confidence"),
             ([cgan_run, "--per-class", 2, "--label", "kind", "--out", tmp_path / "a.npz"], "drop --label"),
             ([cgan_run, "--per-class", 2, "--out", tmp_path / "a.csv"], "not a .csv")]
    for args, message in cases:
        code, _, err = cli("augment", *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "a.npz").exists()
