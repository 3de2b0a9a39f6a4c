"""Tabular synthesizer: transforms, training-by-sampling, fit/sample/save/load, metrics, CLI."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import InjectNaN
from ganforge.tabular import TabularGAN
from ganforge.data.table_columns import plan_columns
from ganforge.data.table_sampler import CondStream, cond_layout
from ganforge.data.table_transform import TableTransformer


def mixed_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    grp = rng.choice(["a", "b", "rare"], n, p=[0.6, 0.37, 0.03])
    x = np.where(grp == "a", rng.normal(0, 1, n), rng.normal(8, 0.5, n))
    with_nan = rng.normal(50, 10, n)
    with_nan[rng.random(n) < 0.3] = np.nan
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    return pd.DataFrame({"grp": grp, "x": x, "count": rng.integers(0, 40, n),
                         "with_nan": with_nan, "day": days.strftime("%Y-%m-%d"),
                         "zero_inflated": np.where(rng.random(n) < 0.8, 0, rng.integers(100, 5000, n))})


def test_plan_detects_kinds():
    plan, notes = plan_columns(mixed_table())
    kinds = {c: p["kind"] for c, p in plan.items()}
    assert kinds == {"grp": "categorical", "x": "continuous", "count": "continuous",
                     "with_nan": "continuous", "day": "datetime", "zero_inflated": "continuous"}
    assert plan["count"]["integer"] and not plan["x"]["integer"]
    assert any("day" in n and "datetime" in n for n in notes)


def test_transform_round_trip_keeps_values_types_and_missing():
    df = mixed_table()
    plan, _ = plan_columns(df)
    tf = TableTransformer.fit(df, plan)
    tf = TableTransformer.from_json(json.loads(json.dumps(tf.to_json())))  # survives JSON
    m = tf.encode(df)
    assert m.shape == (len(df), tf.width)
    back = tf.decode(m)
    assert (back["grp"] == df["grp"]).all()
    assert back["count"].dtype == "Int64" and (back["count"].to_numpy() == df["count"].to_numpy()).all()
    assert (back["with_nan"].isna() == df["with_nan"].isna()).all()
    ok = df["with_nan"].notna()
    assert np.allclose(back["with_nan"][ok], df["with_nan"][ok], atol=0.05)
    assert (back["day"] == df["day"]).all()
    zero = df["zero_inflated"] == 0
    assert (back["zero_inflated"][zero] == 0).all()  # the spike at 0 decodes exactly


def test_training_by_sampling_oversamples_rare_categories_and_resumes():
    df = mixed_table(1000)
    plan, _ = plan_columns(df)
    tf = TableTransformer.fit(df, plan)
    x = torch.from_numpy(tf.encode(df))
    layout = cond_layout(tf)
    s = CondStream(x, layout, 200, seed=0)
    rows, cond = s.next()
    assert cond.sum(1).eq(1).all()  # exactly one (column, category) per row
    g = layout[0]  # grp
    rare = tf.columns[0]["categories"].index("rare")
    picked = torch.cat([s.next()[1][:, g["cond_start"] + rare] for _ in range(20)]).mean().item()
    assert picked > 0.1  # 3% of rows, but log-frequency sampling shows it ~1/3 of the time
    rows, cond = s.next()
    sel = cond[:, g["cond_start"]:g["cond_start"] + g["size"]].sum(1) > 0
    assert (rows[sel, g["start"]:g["start"] + g["size"]].argmax(1)
            == cond[sel, g["cond_start"]:g["cond_start"] + g["size"]].argmax(1)).all()
    state = s.state_dict()
    a = s.next()
    s2 = CondStream(x, layout, 200, seed=0)
    s2.load_state_dict(state)
    b = s2.next()
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tab") / "run"
    model = TabularGAN(epochs=40, batch_size=100, hidden=64, lr=1e-3, progress=False, verbose=False)
    model.fit(mixed_table(400), out=out)
    return model, out


def test_fit_sample_types_ranges_and_conditions(fitted):
    model, _ = fitted
    df = mixed_table(400)
    s = model.sample(500, seed=1)
    assert list(s.columns) == list(df.columns)
    assert s["count"].dtype == "Int64"
    assert s["count"].min() >= df["count"].min() and s["count"].max() <= df["count"].max()
    assert s["x"].min() >= df["x"].min() and s["x"].max() <= df["x"].max()
    assert 0.05 < s["with_nan"].isna().mean() < 0.6  # real rate 0.3
    pd.to_datetime(s["day"], format="%Y-%m-%d")  # valid dates in the source format
    rare = model.sample(50, conditions={"grp": "rare"})
    assert len(rare) == 50 and (rare["grp"] == "rare").all()


def test_generator_obeys_the_conditional_vector(fitted):
    """The cross-entropy term teaches G to emit the asked category (no rejection here)."""
    model, _ = fitted
    cats = model.transformer.columns[0]["categories"]
    gen = torch.Generator().manual_seed(0)
    s = model._generate(400, gen, fixed=(0, cats.index("b")))
    assert (s["grp"] == "b").mean() > 0.8


def test_fit_is_watched_by_the_health_monitor(fitted):
    """Table fits run the same monitor as `ganforge train` (loss and gradient detectors), so
    `ganforge doctor` reads a live diagnosis of them."""
    from ganforge.monitor.doctor import diagnose, format_diagnosis
    _, run = fitted
    d = diagnose(run)
    assert d["source"].startswith("logged live") and d["status_now"] == "healthy"
    assert "sample diversity" not in d["watched"] and "gradient norms" in d["watched"]
    assert "losses and gradient norms looked healthy" in format_diagnosis(d)
    assert (run / "healthy.safetensors").exists()


def test_fit_on_problem_fix_recovers_from_a_nan(tmp_path):
    """--on-problem fix works for tables as for `ganforge train`: a NaN injected into G's
    gradient is found at the next log step, the fit rolls back, halves the lr and finishes."""
    from ganforge.io.checkpoint import load_state
    torch.set_num_threads(1)
    out = tmp_path / "tab"
    model = TabularGAN(epochs=60, batch_size=100, hidden=32, progress=False, verbose=False, on_problem="fix")
    model.fit(mixed_table(400), out=out, callbacks=[InjectNaN(130)])  # 240 steps, logged at 100, 200, 240
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r.get("finding") == "nan" and "severity" in r] == [200]
    fix = [r for r in log if r.get("action") == "fix"]
    assert fix and fix[0]["rolled_back_to"] == 0 and "lr_G" in fix[0]["change"]
    saved = load_state(out / "checkpoint.safetensors")
    assert saved["step"] == 240 and all(torch.isfinite(t).all() for t in saved["nets"]["G"].values())
    assert len(model.sample(50, seed=0)) == 50


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    model, run = fitted
    model.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["generator.json", "generator.safetensors"]
    info = json.loads((tmp_path / "m" / "generator.json").read_text())
    assert info["data"]["info"]["transformer"]["columns"][0]["name"] == "grp"
    loaded = TabularGAN.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.sample(100, seed=3), model.sample(100, seed=3))
    pd.testing.assert_frame_equal(TabularGAN.load(run).sample(20, seed=3), model.sample(20, seed=3))


def test_metrics_separate_good_from_bad_and_detect_copies():
    from ganforge.metrics.table_evaluate import evaluate
    real, hold = mixed_table(400, seed=0), mixed_table(400, seed=1)
    fresh = evaluate(real, mixed_table(400, seed=2), hold, target="grp")
    bad = mixed_table(400, seed=2)
    bad["x"] = bad["x"].sample(frac=1, random_state=0).to_numpy() * 3  # wrong shape, no trends
    bad["grp"] = "a"
    worse = evaluate(real, bad, hold, target="grp")
    assert fresh["quality"]["quality"] > 0.85 > worse["quality"]["quality"]
    assert worse["ml_efficacy"]["synthetic"]["f1"] <= fresh["ml_efficacy"]["synthetic"]["f1"]
    copies = evaluate(real, real.copy(), hold, target="grp")
    assert copies["privacy"]["exact_copies"] == 1.0 and fresh["privacy"]["exact_copies"] == 0.0
    assert copies["privacy"]["mia_auroc"] > 0.9 and abs(fresh["privacy"]["mia_auroc"] - 0.5) < 0.1
    assert copies["privacy"]["dcr_synthetic_median"] == 0.0


def test_cli_fit_sample_evaluate_report(cli, tmp_path):
    df = mixed_table(200)
    df.to_csv(tmp_path / "real.csv", index=False)
    mixed_table(200, seed=5).to_csv(tmp_path / "hold.csv", index=False)
    code, out, err = cli("tabular", "fit", tmp_path / "real.csv", "--out", tmp_path / "run",
                         "--epochs", 2, "--batch-size", 50, "--quiet")
    assert code == 0, err
    assert "datetime" in err and "columns:" in err  # says what it detected
    code, out, err = cli("tabular", "sample", tmp_path / "run", "-n", 300, "--out", tmp_path / "s.csv",
                         "--condition", "grp=b")
    assert code == 0, err
    s = pd.read_csv(tmp_path / "s.csv")
    assert len(s) == 300 and (s["grp"] == "b").all()
    code, out, err = cli("tabular", "sample", tmp_path / "run", "-n", 300, "--out", tmp_path / "s.csv")
    code, out, err = cli("tabular", "evaluate", tmp_path / "real.csv", tmp_path / "s.csv", "--holdout",
                         tmp_path / "hold.csv", "--target", "grp", "--report", tmp_path / "r.html",
                         "--json", tmp_path / "r.json")
    assert code == 0, err
    assert "quality" in out and "MIA AUROC" in out and "F1" in out
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 7  # 6 columns + the pair heat map
    assert "src=\"http" not in html
    assert json.loads((tmp_path / "r.json").read_text())["quality"]["quality"] > 0


def test_demo_table_is_real_and_mixed():
    from ganforge.tabular import load_demo
    df = load_demo("fair")
    assert df.shape == (6366, 9)
    plan, _ = plan_columns(df)
    kinds = {p["kind"] for p in plan.values()}
    assert {"categorical", "continuous"} <= kinds
