"""`ganforge evaluate`, the training-time evaluation callback and keep-best, end to end on tiny runs."""
import json

import pytest

import ganforge
from ganforge.metrics.evaluate import evaluate
from ganforge.artifacts.noise import Generator
from ganforge.io.rundir import RunDir

TINY = dict(progress=False, steps=30, batch_size=32, channels=8, z_dim=16, log_every=5,
            sample_every=15, ckpt_every=15)


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "digits_cgan"
    ganforge.train("digits", model="cgan", out=out, eval_every=15, eval_n=100, keep_best="fid", **TINY)
    return out


def test_evaluate_cli_writes_metrics_with_protocol_and_floor(cgan_run, cli):
    code, out, err = cli("evaluate", cgan_run, "-n", "200")
    assert code == 0, err
    assert "real-vs-real" in out and "digits-cnn" in out and "not with published" in out
    doc = json.loads((cgan_run / "metrics.json").read_text())
    p = doc["protocol"]
    assert p["n_generated"] == p["n_real"] == 200 and p["extractor"] == "digits-cnn"
    assert not p["comparable_to_published_fid"] and "split seed 0" in p["real_split"]
    rows = {r["metric"]: r for r in doc["metrics"]}
    for k in ("fid", "kid", "precision", "recall", "density", "coverage", "classifier_score",
              "label_accuracy"):
        assert rows[k]["floor"] is not None and rows[k]["protocol"], k
    # the floor is real data scored like the samples: a 30-step GAN is far from it
    assert rows["fid"]["floor"] < rows["fid"]["value"]
    assert rows["coverage"]["floor"] > rows["coverage"]["value"]
    assert len(doc["per_class"]) == 10 and doc["per_class"][3]["name"] == "3"
    assert all(c["coverage_floor"] is not None for c in doc["per_class"])
    mem = doc["memorisation"]
    assert mem["n_generated"] == 200 and len(mem["closest"]) == 8 and "leave-one-out" in mem["reference"]
    assert (cgan_run / "nearest_pairs.png").exists()


def test_evaluate_json_flag_prints_the_document(cgan_run, cli):
    code, out, _ = cli("evaluate", cgan_run, "-n", "60", "--json", "--seed", "3")
    assert code == 0
    doc = json.loads(out)
    assert doc["protocol"]["n_generated"] == 60 and doc["protocol"]["sample_seed"] == 4
    assert json.loads((cgan_run / "metrics.json").read_text())["protocol"]["n_generated"] == 60


@pytest.mark.parametrize("args,message", [
    (["-n", "5"], "-n must be at least 20"),
    (["--extractor", "nope"], "no shipped extractor"),
    (["--extractor", "mnist-cnn"], "expects images of shape"),
    (["--inception-weights", "missing.pth"], "does not exist"),
])
def test_evaluate_user_errors_exit_2_and_leave_metrics_alone(cgan_run, cli, args, message):
    before = (cgan_run / "metrics.json").read_bytes() if (cgan_run / "metrics.json").exists() else None
    code, out, err = cli("evaluate", cgan_run, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    after = (cgan_run / "metrics.json").read_bytes() if (cgan_run / "metrics.json").exists() else None
    assert before == after


def test_evaluate_not_a_run(tmp_path, cli):
    code, _, err = cli("evaluate", tmp_path)
    assert code == 2 and "not a ganforge run" in err


def test_training_time_evaluation_logs_curves_and_keeps_best(cgan_run):
    evals = [r for r in RunDir(cgan_run).read_log() if "eval_fid" in r]
    assert [r["step"] for r in evals] == [15, 30]
    for r in evals:
        assert r["eval_n"] == 100 and r["eval_fid_floor"] < r["eval_fid"]
        assert {"eval_kid", "eval_precision", "eval_recall", "eval_density", "eval_coverage"} <= set(r)
    best = json.loads((cgan_run / "best" / "best.json").read_text())
    assert best["metric"] == "fid" and best["step"] in (15, 30)
    assert best["value"] == min(r["eval_fid"] for r in evals)
    g = Generator.load(cgan_run / "best")                 # `ganforge sample RUN/best` works
    assert g.sample(4, labels=2).samples.shape == (4, 8, 8, 1)


def test_keep_best_without_eval_every_is_a_user_error(tmp_path, cli):
    code, _, err = cli("train", "digits", "--steps", "5", "--keep-best", "fid", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "--eval-every" in err and not (tmp_path / "r").exists()
    code, _, err = cli("train", "digits", "--steps", "5", "--eval-every", "5", "--keep-best", "loss",
                       "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "choose one of" in err and not (tmp_path / "r").exists()


def test_points_run_reports_modes_and_raw_coordinates(tmp_path):
    out = tmp_path / "ring"
    ganforge.train("ring8", out=out, progress=False, steps=150, log_every=25, sample_every=150,
                   ckpt_every=150, eval_every=75, eval_n=300)
    doc = evaluate(out, n=500, kid_subsets=5)
    assert doc["protocol"]["extractor"] == "raw" and "fresh draws" in doc["protocol"]["real_split"]
    rows = {r["metric"]: r for r in doc["metrics"]}
    # 150 steps find most modes (measured 8; an untrained G, or 40 steps, scores 0 modes, 0% HQ)
    assert rows["modes"]["floor"] == 8 and rows["modes"]["value"] >= 6 and rows["high_quality"]["value"] > 0.05
    assert rows["high_quality"]["floor"] > 0.95
    assert doc["memorisation"] is None                    # fresh draws: nothing to memorise
    assert [r["eval_modes_floor"] for r in RunDir(out).read_log() if "eval_modes" in r] == [8, 8]
