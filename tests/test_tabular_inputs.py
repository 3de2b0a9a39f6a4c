"""Bad tables and bad requests: one clear line, exit 2 where it cannot go on, nothing half-written."""
import numpy as np
import pandas as pd
import pytest

FIT = ("--epochs", 1, "--batch-size", 20, "--quiet")


def table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"kind": rng.choice(["x", "y"], n), "value": rng.normal(0, 1, n).round(3),
                         "size": rng.integers(0, 30, n)})


def fails_cleanly(result, *words):
    code, out, err = result
    assert code == 2, (out, err)
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], lines[0]


def test_empty_file(cli, tmp_path):
    (tmp_path / "e.csv").write_text("")
    fails_cleanly(cli("tabular", "fit", tmp_path / "e.csv", "--out", tmp_path / "run", *FIT), "empty")
    assert not (tmp_path / "run").exists()


def test_header_only_and_one_row(cli, tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    fails_cleanly(cli("tabular", "fit", tmp_path / "h.csv", "--out", tmp_path / "run", *FIT), "0 row")
    (tmp_path / "one.csv").write_text("a,b\n1,x\n")
    fails_cleanly(cli("tabular", "fit", tmp_path / "one.csv", "--out", tmp_path / "run", *FIT),
                  "1 row", "at least")
    assert not (tmp_path / "run").exists()


def test_non_utf8_bytes(cli, tmp_path):
    (tmp_path / "l1.csv").write_bytes("name,v\n".encode() + "Zoë,1\n".encode("latin-1") * 30)
    fails_cleanly(cli("tabular", "fit", tmp_path / "l1.csv", "--out", tmp_path / "run", *FIT),
                  "UTF-8", "--encoding")
    assert not (tmp_path / "run").exists()


def test_mixed_types_in_a_column(cli, tmp_path):
    df = table()
    df["value"] = df["value"].astype(object)
    df.loc[3, "value"] = "n/a?"
    df.to_csv(tmp_path / "m.csv", index=False)
    fails_cleanly(cli("tabular", "fit", tmp_path / "m.csv", "--out", tmp_path / "run", *FIT),
                  "'value'", "mixes numbers and text", "--discrete value")
    assert not (tmp_path / "run").exists()


def test_unknown_discrete_column(cli, tmp_path):
    table().to_csv(tmp_path / "t.csv", index=False)
    fails_cleanly(cli("tabular", "fit", tmp_path / "t.csv", "--out", tmp_path / "run", "--discrete", "nope",
                      *FIT), "'nope'")


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory):
    """A table with a constant, an all-missing and an ID-like column: fitted with notes."""
    from ganforge.cli import main
    tmp = tmp_path_factory.mktemp("odd")
    df = table()
    df["const"] = "same"
    df["empty"] = np.nan
    df["row_id"] = [f"id-{i:04d}" for i in range(len(df))]
    df.to_csv(tmp / "odd.csv", index=False)
    try:
        main(["tabular", "fit", str(tmp / "odd.csv"), "--out", str(tmp / "run"), *map(str, FIT)])
    except SystemExit as e:
        assert e.code in (0, None)
    return tmp


def test_constant_empty_and_id_columns_are_handled(odd_run, cli):
    code, out, err = cli("tabular", "sample", odd_run / "run", "-n", 50, "--out", odd_run / "s.csv")
    assert code == 0, err
    s = pd.read_csv(odd_run / "s.csv")
    assert (s["const"] == "same").all()
    assert s["empty"].isna().all()
    assert "row_id" not in s.columns  # excluded, as the fit said


def test_fit_says_what_it_did_with_odd_columns(tmp_path, capsys):
    from ganforge.tabular import TabularGAN
    df = table()
    df["const"] = 7
    df["row_id"] = np.arange(len(df))
    TabularGAN(epochs=1, batch_size=20, progress=False).fit(df)
    err = capsys.readouterr().err
    assert "'const' is constant" in err and "'row_id'" in err and "excluded" in err


def test_unseen_category_in_condition_writes_nothing(odd_run, cli):
    out = odd_run / "cond.csv"
    fails_cleanly(cli("tabular", "sample", odd_run / "run", "-n", 10, "--out", out, "--condition", "kind=zzz"),
                  "'zzz'", "'kind'", "'x'")
    fails_cleanly(cli("tabular", "sample", odd_run / "run", "-n", 10, "--out", out, "--condition", "value=1"),
                  "categorical")
    fails_cleanly(cli("tabular", "sample", odd_run / "run", "-n", 10, "--out", out, "--condition", "kindx"),
                  "col=value")
    assert not out.exists()


def test_refit_into_existing_run_and_missing_run(odd_run, cli, tmp_path):
    fails_cleanly(cli("tabular", "fit", odd_run / "odd.csv", "--out", odd_run / "run", *FIT), "already")
    fails_cleanly(cli("tabular", "sample", tmp_path / "nothing", "-n", 5, "--out", tmp_path / "s.csv"),
                  "does not exist")


def test_evaluate_rejects_mismatched_tables(cli, tmp_path):
    table().to_csv(tmp_path / "a.csv", index=False)
    table()[["kind", "value"]].to_csv(tmp_path / "b.csv", index=False)
    fails_cleanly(cli("tabular", "evaluate", tmp_path / "a.csv", tmp_path / "b.csv"), "'size'")


def test_ema_decay_out_of_range(cli, tmp_path):
    table().to_csv(tmp_path / "t.csv", index=False)
    fails_cleanly(cli("tabular", "fit", tmp_path / "t.csv", "--out", tmp_path / "run", *FIT, "--ema-decay", 1.5),
                  "--ema-decay", "[0, 1)")
    assert not (tmp_path / "run").exists()


def test_samples_come_from_the_ema_of_g():
    """Same seed, same steps: with an EMA the sampling weights are the average, not the last."""
    import torch
    from ganforge.tabular import TabularGAN
    kw = dict(epochs=6, batch_size=20, hidden=16, z_dim=8, progress=False, verbose=False)
    last = TabularGAN(ema_decay=0.0, **kw).fit(table())
    avg = TabularGAN(ema_decay=0.99, **kw).fit(table())
    w_last, w_avg = (dict(m.generator_.net.named_parameters()) for m in (last, avg))
    assert w_last.keys() == w_avg.keys()
    assert any(not torch.equal(w_last[k], w_avg[k]) for k in w_last)
