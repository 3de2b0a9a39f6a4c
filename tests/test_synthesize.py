"""`ganforge synthesize`: a class-balanced labelled set from a cgan run, in layouts ganforge reads
back; the confidence filter keeps only what the run's own classifier reads as the asked class."""
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
    code, out, err = cli("synthesize", cgan_run, "--per-class", 7, "--out", tmp_path / "s.npz")
    assert code == 0, err
    assert "70 images (7 per class, 10 classes)" in out
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (70, 8, 8, 1) and f["images"].dtype == np.uint8
        assert f["labels"].dtype == np.int64 and np.bincount(f["labels"]).tolist() == [7] * 10
    code, out, err = cli("synthesize", cgan_run, "--per-class", 3, "--out", tmp_path / "folder")
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
    assert (p0[np.arange(len(y0)), y0.numpy()] < 0.9).any()


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
        code, _, err = cli("synthesize", *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)
    assert not (tmp_path / "a.npz").exists() and (tmp_path / "old.npz").read_bytes() == b"keep"
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x.txt"]
