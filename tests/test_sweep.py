"""`ganforge sweep`: a 3-trial Optuna sweep on ring8 (defaults first, one trial pruned by the
health monitor), its report, `--resume` (a trial cut off is tried again), and bad input."""
import json

import pytest

optuna = pytest.importorskip("optuna")

from ganforge.sweep import sweep  # noqa: E402

TINY = {"threads": 1, "hidden": 32, "batch_size": 64, "log_every": 10, "sample_every": 40, "ckpt_every": 40}


def test_a_three_trial_sweep_prunes_a_diverging_trial_and_resumes(tmp_path, cli):
    out = tmp_path / "sw"
    s = sweep("ring8", trials=3, metric="fid", budget_minutes=2, steps=40, eval_every=20, eval_n=100,
              out=out, options=TINY, first_trials=[{"lr_g": 5.0, "lr_d": 5.0}], say=lambda m: None)
    states = [(r["trial"], r["state"]) for r in s["trials"]]
    assert states == [(0, "complete"), (1, "pruned"), (2, "complete")]
    assert s["trials"][1]["note"].startswith("health: divergence")  # lr 5: the monitor stops it
    assert s["trials"][0]["params"] == s["spec"]["defaults"]  # trial 0 = the data's defaults
    assert "hidden" not in s["spec"]["space"] and {"lr_g", "lr_d", "loss", "r1_gamma"} <= set(s["spec"]["space"])
    for r in s["trials"]:  # each a normal run folder
        run = out / r["run"]
        assert (run / "config.json").exists() and (run / "checkpoint.safetensors").exists()
        evals = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if "eval_fid" in x]
        assert (r["value"] == evals[-1]["eval_fid"]) if r["state"] == "complete" else not evals
    best = s["best"]
    assert best["value"] == min(r["value"] for r in s["trials"] if r["value"] is not None)
    report = (out / "report.md").read_text()
    assert f"**Best: trial {best['trial']}" in report and "| 1 | pruned |" in report and "parallel.png" in report
    assert (out / "parallel.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "best.json").read_text())["model"] == "vanilla"
    assert not any(p.suffix in (".pkl", ".pickle") for p in out.rglob("*"))
    # the best options train again through the CLI's --config
    code, _, err = cli("train", "ring8", "--config", out / "best.json", "--steps", 10, "--threads", 1,
                       "--quiet", "--out", tmp_path / "again")
    assert code == 0, err

    # a trial cut off (left running in the study) is tried again on --resume, with its options
    study = optuna.load_study(study_name="ganforge", storage=f"sqlite:///{out / 'study.db'}")
    cut = study.ask()
    cut.suggest_float("lr_g", 1e-4, 3e-3, log=True)
    code, out_text, err = cli("sweep", "ring8", "--out", out, "--resume", "--trials", 4, "--budget-minutes", 2)
    assert code == 0, err
    s2 = json.loads((out / "results.json").read_text())
    # the cut-off trial is marked failed and tried again (its re-run may itself be pruned by the median rule)
    assert [(r["trial"], r["state"]) for r in s2["trials"]][3:4] == [(3, "fail")]
    assert len(s2["trials"]) == 5 and s2["trials"][4]["state"] in ("complete", "pruned")
    assert s2["trials"][4]["params"]["lr_g"] == cut.params["lr_g"] and (out / "trial_004" / "config.json").exists()
    assert "best: trial" in out_text and "report.md" in out_text
    code, _, err = cli("sweep", "ring8", "--out", out, "--resume", "--trials", 4)  # nothing left to do
    assert code == 0 and len(json.loads((out / "results.json").read_text())["trials"]) == 5


def test_bad_sweep_input_is_one_line_and_writes_nothing(tmp_path, cli):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("x")
    cases = [
        (["ring8", "--trials", 0], "--trials must be a whole number"),
        (["ring8", "--budget-minutes", 0], "--budget-minutes must be more than 0"),
        (["ring8", "--metric", "bogus"], "Invalid value for '--metric'"),
        (["digits", "--metric", "modes"], "--metric modes counts the modes"),
        (["ring8", "--model", "ganomaly"], "not a noise-to-data GAN"),
        (["ring8", "--model", "pix2pix"], "trains on photos"),
        (["ring8", "--resume", "--out", tmp_path / "none"], "nothing to resume"),
        (["ring8", "--out", tmp_path / "full"], "already holds files and is not a sweep"),
        (["ring8", "--steps", 0], "steps"),
        (["ring8", "--eval-n", 5], "--eval-n must be at least 20"),
        (["sines"], "searches GANs of images or 2D points"),
        (["nonexistent-data"], "nonexistent-data"),
    ]
    for args, says in cases:
        code, out, err = cli("sweep", *args)
        assert code == 2 and err.startswith("error:") and says in err and len(err.strip().splitlines()) == 1, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"] and not (tmp_path / "sweeps").exists()
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(__import__("sys").modules, "optuna", None)  # not installed
        code, _, err = cli("sweep", "ring8")
        assert code == 2 and err.strip() == "error: ganforge sweep needs optuna: pip install 'ganforge[sweep]'"
    out = tmp_path / "sw"
    sweep("ring8", trials=1, budget_minutes=1, steps=10, eval_every=10, eval_n=50, out=out, options=TINY,
          say=lambda m: None)
    code, _, err = cli("sweep", "ring8", "--out", out)
    assert code == 2 and "already holds a sweep; pass --resume" in err
    code, _, err = cli("sweep", "grid25", "--out", out, "--resume")
    assert code == 2 and "it sweeps data ring8, not grid25" in err



def test_a_trial_falling_behind_the_median_is_pruned_by_its_metric_not_the_monitor(tmp_path):
    """lr 1e-6 barely moves the generator: its FID stays at the untrained level while the
    defaults' drops. Past the warm-up (a third of 45 steps) the median rule stops it, before
    the health monitor would (its diversity stays low: a finding from step ~50)."""
    out = tmp_path / "sw"
    quick = {**TINY, "sample_every": 1000, "ckpt_every": 1000}
    quick.pop("hidden")  # the default width learns ring8 within these 45 steps; 32 does not
    s = sweep("ring8", trials=2, metric="fid", budget_minutes=2, steps=45, eval_every=10, eval_n=100, out=out,
              options=quick, first_trials=[{"lr_g": 1e-6, "lr_d": 1e-6}], pruner={"n_startup_trials": 1},
              say=lambda m: None)
    assert s["spec"]["pruner"] == {"n_startup_trials": 1, "n_warmup_steps": 15}
    assert [(r["trial"], r["state"]) for r in s["trials"]] == [(0, "complete"), (1, "pruned")]
    assert s["trials"][1]["note"].startswith("fid ") and "behind the median of the completed trials" in s["trials"][1]["note"]
    log = [json.loads(x) for x in (out / s["trials"][1]["run"] / "log.jsonl").read_text().splitlines()]
    assert not any("finding" in r or "action" in r for r in log)  # the monitor played no part
    fid = {r["step"]: r["eval_fid"] for r in log if "eval_fid" in r}
    assert max(fid) < 45 and any(r.get("sweep") == "pruned" for r in log)  # stopped early
    assert s["trials"][0]["value"] < 0.5 * fid[max(fid)]  # and it was far behind
    assert "from step 15 on once 1 trials completed" in (out / "report.md").read_text()


def test_the_median_rule_waits_for_its_warm_up_and_never_prunes_the_last_step(tmp_path):
    """pruning(): nothing is pruned before a third of the steps or before max(2, trials // 4)
    trials completed; TrialReporter lets a run's final evaluation stand."""
    from ganforge.engine.loop import StopTraining
    from ganforge.sweep.search import TrialReporter, pruning
    assert pruning(800, 12) == {"n_startup_trials": 3, "n_warmup_steps": 266}
    assert pruning(40, 3) == {"n_startup_trials": 2, "n_warmup_steps": 13}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(**pruning(90, 8)))  # warm-up 30 steps, 2 trials
    good = optuna.trial.create_trial(value=0.1, intermediate_values={10: 0.5, 30: 0.2, 90: 0.1})
    study.add_trial(good)
    bad = study.ask()
    bad.report(0.9, 30)
    assert not bad.should_prune()  # one completed trial is no median yet
    study.add_trial(good)
    bad = study.ask()
    bad.report(0.9, 10)
    assert not bad.should_prune()  # behind, but inside the warm-up
    bad.report(0.9, 30)
    assert bad.should_prune()

    class Trainer:
        step = 90
        run = type("Run", (), {"log_path": tmp_path / "log.jsonl", "log": lambda self, r: None})()

    class Trial:  # a trial Optuna would always prune
        report = should_prune = lambda self, *a: True

    reporter = TrialReporter(Trial(), "fid", deadline=float("inf"), steps=90)
    Trainer.run.log_path.write_text('{"step": 90, "eval_fid": 0.9}\n')
    reporter(Trainer(), {})  # the last step: kept
    assert reporter.pruned is None
    with open(Trainer.run.log_path, "a") as f:
        f.write('{"step": 60, "eval_fid": 0.9}\n')
    with pytest.raises(StopTraining):
        reporter(Trainer(), {})
    assert reporter.pruned.startswith("fid 0.9 at step 60")
