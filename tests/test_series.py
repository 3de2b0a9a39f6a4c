"""Time series: CSV (wide, long) and .npz readers with their one-line errors, windows, masks and
the scaling round trip; TimeGAN's scores on known cases; a tiny timegan on sines learns (against
its own untrained start, on held-out sines); a run samples a CSV in the original units in a
fresh process."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.data.series import read_series, scale_back, sines
from ganforge.families.resolve import resolve
from ganforge.families.timegan import TimeGAN
from ganforge.metrics.timeseries import discriminative_score, gaussian_windows, noise_windows
from ganforge.nets.rnn import SeqRNN


def wide_frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    price = 1000 + np.cumsum(rng.normal(0, 5, n))
    return pd.DataFrame({"Date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                         "price": price, "volume": rng.integers(1_000_000, 2_000_000, n)})


def test_wide_csv_windows_scaling_and_round_trip(tmp_path):
    df = wide_frame()
    path = tmp_path / "s.csv"
    df.iloc[::-1].to_csv(path, index=False)  # newest first, as many exports are: sorted by time
    d = read_series(str(path), window=5)
    assert d.kind == "series" and tuple(d.x.shape) == (36, 5, 2) and (d.lengths == 5).all()
    assert d.info["columns"] == ["price", "volume"] and d.info["time_column"] == "Date"
    assert float(d.x.min()) == 0.0 and float(d.x.max()) == pytest.approx(1.0, abs=1e-6)
    back = scale_back(d.x[0].numpy().astype(np.float64), d.info)  # the first window, original units
    np.testing.assert_allclose(back, df[["price", "volume"]].to_numpy()[:5], rtol=1e-5)


def test_long_csv_pads_a_short_series_and_masks_it(tmp_path):
    a, b = wide_frame(10), wide_frame(3, seed=1)
    df = pd.concat([a.assign(series_id="a"), b.assign(series_id="b")])
    df.to_csv(tmp_path / "long.csv", index=False)
    d = read_series(str(tmp_path / "long.csv"), window=5)
    assert sorted(d.lengths.tolist()) == [3] + [5] * 6 and d.info["series_count"] == 2
    short = d.x[d.lengths == 3][0]
    assert (short[3:] == 0).all()  # padding after the 3 real steps
    assert d.info["length_counts"] == [[3, 1], [5, 6]]


def test_npz_windows_with_nan_padding_and_explicit_lengths(tmp_path):
    x = np.random.default_rng(0).random((6, 4, 3))
    x[0, 2:] = np.nan  # trailing padding: length 2
    np.savez(tmp_path / "w.npz", series=x, columns=np.array(["a", "b", "c"]))
    d = read_series(str(tmp_path / "w.npz"))
    assert d.lengths.tolist() == [2, 4, 4, 4, 4, 4] and d.info["columns"] == ["a", "b", "c"]
    np.savez(tmp_path / "l.npz", series=np.nan_to_num(x), lengths=np.array([2, 4, 4, 3, 4, 4]))
    assert read_series(str(tmp_path / "l.npz")).lengths.tolist() == [2, 4, 4, 3, 4, 4]


def test_padding_never_changes_the_outputs_at_real_steps():
    torch.manual_seed(0)
    for cell in ("gru", "tcn"):
        net = SeqRNN(3, 2, hidden=8, layers=2, cell=cell)
        x = torch.rand(4, 10, 3)
        y = x.clone()
        y[:, 6:] = torch.rand(4, 4, 3) * 100  # other padding after step 6
        torch.testing.assert_close(net(x)[:, :6], net(y)[:, :6])


BAD = {
    "missing": ("Date,a,b\n2020-01-01,1,2\n2020-01-02,,3\n" + "".join(f"2020-02-{i:02d},1,2\n" for i in range(1, 28)),
                "missing value"),
    "gap": ("t,a\n" + "".join(f"{i},{i}\n" for i in range(30)) + "500,1\n", "jumps by"),
    "duplicate": ("t,a\n" + "".join(f"{i // 2},{i}\n" for i in range(30)), "repeats a time stamp"),
    "text": ("t,a,b\n" + "".join(f"{i},{i},x{i}\n" for i in range(30)), "is not numeric"),
    "ragged": ("t,a\n" + "".join(f"{i},{i}\n" for i in range(30)) + "31,1,2,3\n", "cannot parse"),
    "short": ("t,a\n" + "".join(f"{i},{i}\n" for i in range(10)), "fewer than --window 24"),
    "bad_time": ("date,a\n2020-01-01,1\nsoon,2\n" + "".join(f"2020-03-{i:02d},1\n" for i in range(1, 28)),
                 "neither a date nor a number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_series_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case):
    text, expected = BAD[case]
    (tmp_path / "s.csv").write_text(text)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", str(tmp_path / "s.csv"), "--model", "timegan", "--steps", "5", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert expected in err, err
    assert not out.exists()


def test_npz_window_mismatch_and_missing_inside_are_refused(tmp_path):
    x = np.random.default_rng(0).random((6, 4, 2))
    np.savez(tmp_path / "w.npz", series=x)
    with pytest.raises(ganforge.GanforgeError, match="windows of 4 steps"):
        read_series(str(tmp_path / "w.npz"), window=24)
    x[1, 1, 0] = np.nan
    np.savez(tmp_path / "m.npz", series=x)
    with pytest.raises(ganforge.GanforgeError, match="missing value"):
        read_series(str(tmp_path / "m.npz"))


def test_discriminative_score_tells_noise_from_sines_but_not_sines_from_sines():
    torch.set_num_threads(1)
    a, b = sines(600, seed=1), sines(600, seed=2)
    quick = dict(iterations=100, batch_size=32, lr=1e-2, seed=0)  # a faster classifier than the protocol's
    same = discriminative_score(a, b, **quick)
    noise = discriminative_score(a, noise_windows(a, 600), **quick)
    assert same < 0.1 and noise > 0.3, (same, noise)
    assert gaussian_windows(a, 10).shape == (10, 24, 5)


def test_keep_best_discriminative_keeps_the_best_timegan_checkpoint(tmp_path):
    torch.set_num_threads(1)
    run = ganforge.train("sines", model="timegan", out=tmp_path / "t", progress=False, steps=60, embed_steps=10,
                         supervised_steps=10, hidden=8, layers=2, cell="tcn", log_every=10, eval_every=20,
                         eval_n=200, keep_best="discriminative")
    evals = [r for r in run.log if "eval_discriminative" in r]
    # none before joint training (steps 1-20: G untrained): from its first log step, then every 20
    assert [r["step"] for r in evals] == [30, 40, 60] and all(0 <= r["eval_discriminative_floor"] < 0.2 for r in evals)
    best = json.loads((run.path / "best" / "best.json").read_text())
    assert best["value"] == min(r["eval_discriminative"] for r in evals)
    assert best["step"] == min(evals, key=lambda r: r["eval_discriminative"])["step"]
    assert ganforge.load(run.path / "best").sample(3, seed=0).samples.shape[0] == 3
    again = ganforge.train("sines", model="timegan", out=tmp_path / "u", progress=False, steps=60, embed_steps=10,
                           supervised_steps=10, hidden=8, layers=2, cell="tcn", log_every=10, eval_every=0)
    assert again.config["config"]["keep_best"] is None and not (again.path / "best").exists()
    for k in ("generator", "supervisor", "recovery"):  # judging leaves training's random stream alone
        for name, w in getattr(ganforge.load(again.path).net, k).state_dict().items():
            torch.testing.assert_close(w, getattr(ganforge.load(run.path).net, k).state_dict()[name])


def test_keep_best_asks_for_a_metric_the_data_has(tmp_path, cli):
    code, _, err = cli("train", "sines", "--model", "timegan", "--steps", "5", "--eval-every", "5",
                       "--keep-best", "fid", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "discriminative" in err and not (tmp_path / "r").exists()


def _moments_gap(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean distance of the per-(step, feature) mean and sd (original units)."""
    return float(np.abs(fake.mean(0) - real.mean(0)).mean() + np.abs(fake.std(0) - real.std(0)).mean())


def test_a_tiny_timegan_on_sines_learns(tmp_path):
    torch.set_num_threads(1)
    opts = dict(steps=300, embed_steps=40, supervised_steps=20, hidden=12, layers=2, cell="tcn", batch_size=64,
                log_every=100)
    held_out = sines(1000, seed=123)
    run = ganforge.train("sines", model="timegan", out=tmp_path / "t", progress=False, **opts)
    data = read_series("sines")  # its own starting point: the runner seeds, then builds the family
    cfg = resolve(TimeGAN, {**opts, "data": "sines"}, data.meta(), "sines")
    torch.manual_seed(cfg.seed)
    start = TimeGAN(cfg, data.meta()).sampling_view(None, data, "cpu")
    gap = {k: _moments_gap(m.sample(1000, seed=5).samples, held_out)
           for k, m in (("untrained", start), ("trained", ganforge.load(run.path)))}
    assert gap["trained"] < 0.5 * gap["untrained"], gap  # measured: 0.21 -> 0.065


def _tiny_timegan(**kw):
    data = read_series("sines")
    cfg = resolve(TimeGAN, {"steps": 10, "embed_steps": 1, "supervised_steps": 1, "hidden": 8, "layers": 2,
                            "data": "sines", **kw}, data.meta(), "sines")
    torch.manual_seed(0)
    return TimeGAN(cfg, data.meta())


def test_d_judges_several_sequences_in_one_call_as_it_would_one_by_one():
    fam = _tiny_timegan()
    seqs = [torch.rand(5, 24, 8) for _ in range(3)]
    batched = fam._judge(*seqs)
    for one, b in zip(seqs, batched):
        torch.testing.assert_close(fam.nets["D"](one), b, rtol=1e-5, atol=1e-6)


def test_change_moments_reach_g_and_are_logged_only_when_asked():
    batch = (read_series("sines").x[:16], torch.full((16,), 24))

    def g_loss(fam):
        torch.manual_seed(1)  # the same noise z for both
        loss, stats = fam.g_step(batch, {"step": 5})
        grads = torch.autograd.grad(loss, list(fam.nets["G"].parameters()))
        return loss, stats, torch.cat([g.flatten() for g in grads])
    off, on = _tiny_timegan(), _tiny_timegan(change_moments=100.0)  # same seed: same weights
    loss_off, stats_off, grad_off = g_loss(off)
    loss_on, stats_on, grad_on = g_loss(on)
    assert "change_moments" not in stats_off and stats_on["change_moments"] > 0
    torch.testing.assert_close(loss_on - loss_off, 100.0 * stats_on["change_moments"], rtol=1e-4, atol=1e-4)
    assert (grad_on - grad_off).abs().max() > 1e-4  # the term steers G


def test_ema_samples_from_the_averages_of_all_three_sampler_nets(tmp_path):
    from ganforge.io.checkpoint import load_state
    torch.set_num_threads(1)
    run = ganforge.train("sines", model="timegan", out=tmp_path / "t", progress=False, steps=30, embed_steps=5,
                         supervised_steps=5, hidden=8, layers=2, cell="tcn", ema_decay=0.9, log_every=10)
    state, sampler = load_state(run.path / "checkpoint.safetensors"), ganforge.load(run.path).net
    assert set(state["ema"]) == {"G", "S", "R"}
    for part, key in (("generator", "G"), ("supervisor", "S"), ("recovery", "R")):
        saved = getattr(sampler, part).state_dict()
        for name, w in saved.items():
            torch.testing.assert_close(w, state["ema"][key][name])
        assert any(not torch.equal(w, state["nets"][key][name]) for name, w in saved.items()), key


def test_fresh_process_samples_csv_in_original_units(tmp_path):
    df = wide_frame(60)
    df.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", str(tmp_path / "s.csv"), "--model", "timegan", "--window", "8", "--steps", "6",
              "--embed-steps", "2", "--supervised-steps", "2", "--hidden", "4", "--layers", "2",
              "--batch-size", "16", "--out", str(out), "--quiet"])
    assert e.value.code == 0
    info = json.loads((out / "generator.json").read_text())["data"]["info"]
    assert info["columns"] == ["price", "volume"] and len(info["min"]) == 2
    proc = subprocess.run([sys.executable, "-m", "ganforge", "sample", str(out), "-n", "3", "--out",
                           str(tmp_path / "synth.csv")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    synth = pd.read_csv(tmp_path / "synth.csv")
    assert list(synth.columns) == ["series", "step", "price", "volume"] and len(synth) == 3 * 8
    for c in ("price", "volume"):  # sigmoid outputs scaled back: inside the data's range, in its units
        assert df[c].min() - 1e-3 <= synth[c].min() and synth[c].max() <= df[c].max() + 1e-3
    assert synth["volume"].min() > 1e5


def test_evaluate_gives_timegan_scores_with_a_real_floor(tmp_path, monkeypatch, capsys):
    import ganforge.metrics.series_evaluate as se
    monkeypatch.setattr(se, "DISC_ITERS", 20)  # the protocol's 2,000 / 5,000 steps are for real use
    monkeypatch.setattr(se, "PRED_ITERS", 20)
    run = ganforge.train("sines", model="timegan", out=tmp_path / "r", steps=3, embed_steps=1, supervised_steps=1,
                         hidden=4, layers=2, batch_size=16, progress=False)
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(run.path), "-n", "40", "--json"])
    assert e.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "series" and [r["metric"] for r in doc["metrics"]] == ["discriminative", "predictive"]
    disc, pred = doc["metrics"]
    assert 0 <= disc["value"] <= 0.5 and 0 <= disc["floor"] <= 0.5 and pred["value"] > 0 and pred["floor"] > 0
    assert (run.path / "metrics.json").exists()


def test_a_series_given_to_another_family_or_a_csv_without_a_model_names_timegan(tmp_path, capsys):
    wide_frame().to_csv(tmp_path / "s.csv", index=False)
    for args in (["sines", "--model", "dcgan"], [str(tmp_path / "s.csv")]):
        with pytest.raises(SystemExit) as e:
            main(["train", *args, "--steps", "2", "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and len(err.splitlines()) == 1 and "--model timegan" in err, err
