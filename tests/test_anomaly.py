"""Anomaly detection: scores file and threshold, eval-mode scores that do not depend on the batch
(GANomaly #47), one-line errors for bad input, and detectors that learn (vs their untrained self)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import ganforge
import ganforge.anomaly
from ganforge.apps.anomaly import read_data, select_classes, split_normal
from ganforge.families import family_class

TINY = dict(steps=6, arch="conv", channels=4, z_dim=4, log_every=2, batch_size=32)  # conv: BatchNorm
TINY_BY_METHOD = {"ganomaly": TINY, "fanogan": dict(TINY, gan_steps=3, n_critic=1)}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny detector of each method on digits, class 0 normal."""
    root = tmp_path_factory.mktemp("anomaly")
    return {m: ganforge.anomaly.fit("digits", root / m, method=m, normal_class=0, fpr=0.1, progress=False,
                                    **TINY_BY_METHOD[m]) for m in ganforge.anomaly.METHODS}


def test_scores_file_has_one_row_per_item_and_the_stated_threshold(fitted, cli, tmp_path):
    run = fitted["ganomaly"]
    out = tmp_path / "scores.csv"
    code, stdout, err = cli("anomaly", "score", run.path, "digits", "--out", out)
    assert code == 0, err
    df = pd.read_csv(out)
    assert list(df.columns) == ["item", "score", "anomalous", "label"] and len(df) == 1797
    assert df["item"].tolist() == list(range(1797)) and np.isfinite(df["score"]).all()
    assert (df["anomalous"] == (df["score"] > run.threshold)).all()
    assert f"{run.threshold:.6g}" in stdout and "10.0% false positives" in stdout
    # --fpr re-chooses the threshold from the held-out normal scores kept at fit time
    df2 = ganforge.anomaly.score(run.path, "digits", fpr=0.5)
    assert df2.attrs["threshold"] < run.threshold and df2["anomalous"].sum() > df["anomalous"].sum()


@pytest.mark.parametrize("method", ["ganomaly", "fanogan"])
def test_threshold_holds_the_false_positive_rate_on_held_out_normal_items_and_round_trips(fitted, method):
    run = ganforge.anomaly.load_run(fitted[method].path)
    doc = run.doc
    # the same seeded split as the fit: its threshold half, scored again by the saved detector
    _, x_choose, x_calib = split_normal(select_classes(read_data("digits"), 0), seed=0)
    assert len(x_calib) == doc["normal_items"]["threshold"] and len(x_choose) == doc["normal_items"]["choose"]
    calib = run.detector().scores(x_calib)
    np.testing.assert_allclose(np.sort(calib), doc["calibration_scores"], rtol=1e-5, atol=1e-7)
    assert (calib > run.threshold).mean() <= doc["fpr"]
    assert (calib >= run.threshold).mean() > 0  # the threshold is a held-out score, not above them all
    assert doc["normal_items"]["train"] + len(x_choose) + len(x_calib) == int((read_data("digits").labels == 0).sum())


@pytest.mark.parametrize("method", ["ganomaly", "fanogan"])
def test_a_score_does_not_depend_on_the_other_items_in_its_batch(fitted, method):
    det = ganforge.load(fitted[method].path)
    assert type(det).__name__ == "Detector" and det.method == method
    x = read_data("digits").x[:64]
    together = det.scores(x)
    alone = np.array([det.scores(x[i:i + 1])[0] for i in range(8)])
    mixed = det.scores(torch.cat([x[:8], -x[8:]]))[:8]  # the same 8 items beside different ones
    # float32 conv kernels chosen by batch size differ in the last digits (measured: 1.2e-5
    # relative for one item of 64); a batch-reading net differs by far more than 1e-3 (below)
    np.testing.assert_allclose(alone, together[:8], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mixed, together[:8], rtol=1e-4, atol=1e-6)
    assert np.array_equal(det.scores(x), together)  # deterministic
    # what the test guards against: in train mode BatchNorm reads the batch (GANomaly #47)
    det.net.train()
    with torch.no_grad():
        train_mode = det.net.score(torch.cat([x[:8], -x[8:]]))[:8].double().numpy()
    assert not np.allclose(train_mode, together[:8], rtol=1e-3)


def test_anomaly_fit_and_score_on_a_table(tmp_path, cli):
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"amount": rng.lognormal(3, 0.3, n), "kind": rng.choice(["a", "b", "c"], n),
                       "hour": rng.integers(8, 18, n) + 0.5})
    df.to_csv(tmp_path / "normal.csv", index=False)
    code, out, err = cli("anomaly", "fit", tmp_path / "normal.csv", "--out", tmp_path / "run", "--method", "ganomaly",
                         "--steps", "4", "--quiet")
    assert code == 0, err
    new = pd.concat([df.head(5), pd.DataFrame({"amount": [1e5], "kind": ["zz"], "hour": [3.0]})])
    new.to_csv(tmp_path / "new.csv", index=False)
    code, out, err = cli("anomaly", "score", tmp_path / "run", tmp_path / "new.csv", "--out", tmp_path / "s.csv")
    assert code == 0, err
    s = pd.read_csv(tmp_path / "s.csv")
    assert len(s) == 6 and "label" not in s.columns and np.isfinite(s["score"]).all()
    # the table lacks a column the detector was fitted on
    new.drop(columns="kind").to_csv(tmp_path / "bad.csv", index=False)
    code, out, err = cli("anomaly", "score", tmp_path / "run", tmp_path / "bad.csv", "--out", tmp_path / "b.csv")
    assert code == 2 and "lacks column 'kind'" in err and not (tmp_path / "b.csv").exists()


@pytest.mark.parametrize("args,message", [
    (["fit", "digits", "--method", "svdd"], "'svdd' is not one of"),
    (["fit", "digits", "--fpr", "1.5"], "--fpr must be between 0 and 1"),
    (["fit", "digits", "--normal-class", "12"], "--normal-class 12 is not a class of 'digits'"),
    (["fit", "unlabelled.npz", "--normal-class", "1"], "--normal-class needs labelled data"),
    (["fit", "no/such/folder"], "unknown dataset 'no/such/folder'"),
    (["fit", "digits", "--method", "fanogan", "--steps", "3", "--gan-steps", "5"], "--steps 3 must be larger"),
    (["fit", "digits", "--gan-steps", "5"], "--gan-steps is not an option of --model ganomaly"),  # images: ganomaly
])
def test_bad_fit_input_is_one_line_and_writes_nothing(cli, tmp_path, args, message):
    np.savez("unlabelled.npz", images=np.zeros((60, 8, 8), np.uint8))  # in the test's temp dir
    out = tmp_path / "run"
    code, _, err = cli("anomaly", *args, "--out", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert message in err, err
    assert not out.exists() or not any(out.iterdir())


def test_too_few_normal_items_is_refused(tmp_path):
    np.savez(tmp_path / "few.npz", images=np.zeros((10, 8, 8), np.uint8))
    with pytest.raises(ganforge.GanforgeError, match="10 normal items are too few"):
        ganforge.anomaly.fit(tmp_path / "few.npz", tmp_path / "run", progress=False)


def test_bad_score_input_is_one_line_and_writes_nothing(fitted, cli, tmp_path):
    run = fitted["fanogan"].path
    np.savez(tmp_path / "big.npz", images=np.zeros((4, 28, 28), np.uint8))
    existing = tmp_path / "exists.csv"
    existing.write_text("keep")
    cases = [([tmp_path, "digits"], "no trained generator"),                 # not a run folder
             ([run, tmp_path / "big.npz"], "fitted on items of shape (1, 8, 8)"),
             ([run, tmp_path / "t.csv"], "fitted on images"),
             ([run, "digits", "--fpr", "0"], "--fpr must be between 0 and 1")]
    pd.DataFrame({"a": range(20)}).to_csv(tmp_path / "t.csv", index=False)
    for args, message in cases:
        code, _, err = cli("anomaly", "score", *args, "--out", tmp_path / "s.csv")
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)
        assert not (tmp_path / "s.csv").exists()
    code, _, err = cli("anomaly", "score", run, "digits", "--out", existing)
    assert code == 2 and "already exists" in err and existing.read_text() == "keep"


def ring(n: int, offset: float, seed: int) -> torch.Tensor:
    """n points on ring8's circle (sd 0.01): at its modes (offset 0) or halfway between (pi/8)."""
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(8, (n,), generator=g)
    a = 2 * math.pi * k / 8 + offset
    return torch.stack([a.cos(), a.sin()], 1) + 0.01 * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("method,steps,opts", [
    ("ganomaly", 600, dict(z_dim=2)),
    ("fanogan", 1100, dict(gan_steps=800, lr=1e-3, hidden=64)),  # n_critic 2 or z_dim 2: G misses modes
])
def test_a_fitted_detector_separates_points_off_the_ring_and_its_untrained_self_does_not(tmp_path, method, steps, opts):
    """ring8 is normal; the same circle halfway between its modes is anomalous (a far-off point
    would be easy even for an untrained net: its norm alone gives it away)."""
    x = torch.cat([ring(300, 0.0, 1), ring(300, math.pi / 8, 2)])
    truth = np.r_[np.zeros(300), np.ones(300)]

    def auroc(steps_, gan_steps=None):
        o = dict(opts, **({"gan_steps": gan_steps} if gan_steps else {}))
        run = ganforge.anomaly.fit("ring8", tmp_path / f"{method}{steps_}", method=method, steps=steps_,
                                   log_every=max(1, steps_ // 6), progress=False, members=1, **o)
        return roc_auc_score(truth, run.detector().scores(x))

    untrained = auroc(2, gan_steps=1 if method == "fanogan" else None)
    trained = auroc(steps)
    assert trained > 0.9 and trained > untrained + 0.2, (trained, untrained)  # seeds 0, 1: > 0.96


def test_the_anomaly_families_train_their_parts_as_saved():
    """f-AnoGAN trains G, D, E as separate nets whose specs must rebuild the detector's parts."""
    from ganforge.nets import build_net
    cls = family_class("fanogan")
    meta = read_data("digits").meta()
    for arch in ("conv", "mlp"):
        cfg = cls.Options(model="fanogan", arch=arch, steps=4, gan_steps=2, channels=4, z_dim=4).validate(())
        fam = cls(cfg, meta)
        assert set(fam.specs) == set(fam.nets) == {"G", "D", "E"}
        for name, spec in fam.specs.items():
            assert build_net(spec).state_dict().keys() == fam.nets[name].state_dict().keys(), (arch, name)
    with pytest.raises(ganforge.GanforgeError, match="--arch must be conv or mlp"):
        cls(cls.Options(model="fanogan", arch="rnn", steps=4, gan_steps=2), meta)


def test_anomaly_json_states_the_protocol(fitted):
    doc = json.loads((fitted["fanogan"].path / "anomaly.json").read_text())
    assert doc["higher_is_anomalous"] and doc["chosen_step"] > TINY_BY_METHOD["fanogan"]["gan_steps"]
    assert "held-out normal" in doc["chosen_by"] and doc["normal_classes"] == ["0"]


def test_the_default_method_follows_what_the_data_is(cli, tmp_path):
    """No --method: ganomaly on images, fanogan on points and tables; no --members: three on
    images, one elsewhere (anomaly.md's and anomaly_members.jsonl's measurements)."""
    code, out, err = cli("anomaly", "fit", "digits", "--normal-class", "0", "--out", tmp_path / "img",
                         "--steps", 2, "--quiet")
    assert code == 0, err
    doc = json.loads((tmp_path / "img" / "anomaly.json").read_text())
    assert "fitted ganomaly" in out and doc["method"] == "ganomaly" and len(doc["members"]) == 3
    run = ganforge.anomaly.fit("ring8", tmp_path / "pts", steps=4, gan_steps=2, progress=False)
    assert run.doc["method"] == "fanogan" and len(run.doc["members"]) == 1  # --members: measured on images only


def test_the_recon_plus_latent_score_is_standardized_on_the_held_out_normal_items(tmp_path):
    """Each part is scaled by the checkpoint-choice half of the normal items: there, the saved
    detector's score has mean 0 (sum of two standardized parts), and it loads with that scale."""
    run = ganforge.anomaly.fit("digits", tmp_path / "both", method="ganomaly", normal_class=0, progress=False,
                               anomaly_score="recon+latent", members=1, **TINY)
    det = ganforge.load(run.path)
    assert det.info["score"].startswith("reconstruction error") and "standardized" in det.info["score"]
    _, x_choose, _ = split_normal(select_classes(read_data("digits"), 0), seed=0)
    s = det.scores(x_choose)
    assert abs(s.mean()) < 1e-4 and 0.0 < s.std() <= 2.0 + 1e-4  # sd of a sum of two sd-1 parts: 0..2
    with torch.no_grad():
        recon, latent = det.net.eval().parts(x_choose)
    assert det.net.scale[1] == pytest.approx(float(recon.double().std()), rel=1e-4)
    assert det.net.scale[2] == pytest.approx(float(latent.double().mean()), rel=1e-4)
    # runs saved with the other scores (all runs before this one existed) have no scale and load as before
    from ganforge.nets import build_net
    for score_by in ("recon", "latent"):
        assert "scale" not in build_net({"net": "ganomaly", "kwargs": {**det.info["net"]["kwargs"],
                                                                        "score_by": score_by}}).state_dict()


def test_several_normal_classes_add_a_knn_part_kept_with_the_detector(tmp_path):
    """Normal data of several classes scores recon+latent+knn: the codes of up to 4,000 training
    items are saved with the detector (a fresh load holds them), each of the three parts is
    standardized on the checkpoint-choice items, and one normal class keeps recon+latent. (w_cls 0:
    without the class head that labelled classes add by default, tested below.)"""
    run = ganforge.anomaly.fit("digits", tmp_path / "two", method="ganomaly", normal_class=[0, 1], progress=False,
                               members=1, w_cls=0, **TINY)
    det = ganforge.load(run.path)
    assert det.net.score_by == "recon+latent+knn" and "nearest codes" in run.doc["score"]
    train, x_choose, _ = split_normal(select_classes(read_data("digits"), [0, 1]), seed=0)
    assert det.net.bank.shape == (len(train.x), 4) and det.info["net"]["kwargs"]["bank_size"] == len(train.x)
    with torch.no_grad():  # the bank holds the training items' codes
        assert torch.allclose(det.net.bank, det.net.eval().enc(train.x), atol=1e-5)
    s = det.scores(x_choose)
    assert abs(s.mean()) < 1e-4 and 0.0 < s.std() <= 3.0 + 1e-4
    assert det.net.scale.shape == (6,) and det.net.scale[5] > 0
    # a training item is its own nearest code: its kNN part is smaller than a held-out item's
    with torch.no_grad():
        assert det.net.knn_distance(det.net.bank[:50]).mean() < det.net.knn_distance(det.net.enc(x_choose)).mean()
    one = ganforge.anomaly.fit("digits", tmp_path / "one", method="ganomaly", normal_class=0, progress=False,
                               members=1, **TINY)
    assert ganforge.load(one.path).net.score_by == "recon+latent"
    assert "bank" not in dict(ganforge.load(one.path).net.named_buffers())


def test_members_average_their_standardized_scores_and_load_as_one_detector(fitted, tmp_path, cli):
    """--members (default 3): each member trains with its own seed on the same split; the saved
    detector's score is the mean of the members' scores, each standardized on the checkpoint-
    choice items, and a fresh load scores exactly as the fitted one."""
    run = fitted["ganomaly"]
    det = ganforge.load(run.path)
    assert det.info["net"]["net"] == "anomaly_ensemble" and len(det.net.members) == 3
    assert [m["seed"] for m in run.doc["members"]] == [0, 1000, 2000]
    assert (run.path / "members" / "2" / "log.jsonl").is_file()  # each member's own training run
    _, x_choose, _ = split_normal(select_classes(read_data("digits"), 0), seed=0)
    x = read_data("digits").x[:300]
    with torch.no_grad():
        each = [m.eval().score(x).double() for m in det.net.members]
        own = [m.score(x_choose).double() for m in det.net.members]
    by_hand = sum((s - o.mean()) / o.std() for s, o in zip(each, own)) / 3
    np.testing.assert_allclose(det.scores(x), by_hand.numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(each[0].numpy(), each[1].numpy())  # different seeds, different members
    assert abs(det.scores(x_choose).mean()) < 1e-4
    code, out, err = cli("anomaly", "fit", "digits", "--members", 0, "--out", tmp_path / "m0")
    assert code == 2 and "--members must be a whole number from 1 to 16" in err and not (tmp_path / "m0").exists()


def test_labelled_normal_classes_train_a_class_head_that_is_unsure_of_other_classes(tmp_path):
    """Several labelled normal classes: the default score adds 1 - the largest probability of a
    class head on the code, trained on the normal labels. Trained, the head reads held-out normal
    digits and is unsure of the other digits; untrained, it separates nothing."""
    from sklearn.metrics import roc_auc_score
    data = read_data("digits")
    normal = [0, 1, 2]

    def cls_part(steps):
        run = ganforge.anomaly.fit("digits", tmp_path / f"s{steps}", normal_class=normal, steps=steps, members=1,
                                   log_every=max(1, steps // 4), progress=False, threads=1)
        det = ganforge.load(run.path)
        assert det.net.score_by == "recon+latent+knn+cls" and det.net.cls_head.out_features == 3
        with torch.no_grad():
            return det.net.eval().parts(data.x)[3].double().numpy()

    other = ~np.isin(data.labels.numpy(), normal)
    trained, untrained = roc_auc_score(other, cls_part(300)), roc_auc_score(other, cls_part(2))
    assert trained > 0.85 and trained > untrained + 0.15, (trained, untrained)
