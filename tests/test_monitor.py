"""Health monitor: each detector on synthetic metric streams, doctor replay, and one end-to-end
NaN-injection run (stop and fix)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import InjectNaN
from ganforge.monitor import detectors as det


def healthy(n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        e = torch.rand(6, generator=g).tolist()
        out.append({"step": 50 * (i + 1), "d_loss": 1.2 + 0.2 * e[0], "g_loss": 0.9 + 0.2 * e[1],
                    "D_real": 0.55 + 0.05 * e[2], "D_fake": 0.42 + 0.05 * e[3], "D_acc": 0.65 + 0.1 * e[4],
                    "gnorm_G": 2 + 3 * e[5], "gnorm_D": 1.5, "div": 0.9, "modes": 8, "of_modes": 8})
    return out


def test_healthy_stream_has_no_findings():
    recs = healthy(40)
    for i in range(1, len(recs) + 1):
        assert det.detect(recs[:i]) == []
    assert det.status([]) == "healthy"


def test_nonfinite_loss_is_a_problem():
    recs = healthy(10)
    recs[-1]["g_loss"] = float("nan")
    f = {x.finding: x for x in det.detect(recs)}
    assert f["nan"].severity == "problem" and f["nan"].evidence == {"g_loss": "nan"}
    assert det.status(list(f.values())) == "problem"


def test_divergence_relative_and_absolute():
    recs = healthy(12)
    for r in recs[-2:]:
        r["gnorm_D"] = 400.0  # 1.5 early -> 400
    f = det.divergence(recs)
    assert f and f.finding == "divergence" and f.onset == recs[-2]["step"]
    assert f.severity == "warning"  # a gradient norm alone: the losses are still in range
    for r in recs[-2:]:
        r["d_loss"] = 40.0  # 1.3 early -> 40: the explosion reached the losses
    f = det.divergence(recs)
    assert f.severity == "problem" and f.evidence["d_loss"] == "40"
    recs = healthy(12)
    recs[-1]["gnorm_D"] = 400.0  # one spike is not sustained
    assert det.divergence(recs) is None
    recs = healthy(1)
    recs[0]["g_loss"] = 2861.0  # first record already exploded: the absolute limit catches it
    assert det.divergence(recs).evidence["g_loss"] == "2.86e+03"
    # A D whose gradient norm grows as it sharpens (pix2pix's healthy PatchGAN: 2 -> 160 over
    # 40 logs) is no explosion; a jump over its whole history still is.
    recs = healthy(40)
    for i, r in enumerate(recs):
        r["gnorm_D"] = 2.0 * 1.12 ** i
    assert all(det.divergence(recs[:k]) is None for k in range(6, 41))
    for r in recs[-2:]:
        r["gnorm_D"] = 5000.0
    assert det.divergence(recs).evidence["gnorm_D"] == "5e+03"


def test_d_overpowering_warning_then_problem():
    recs = healthy(10)
    for r in recs[-5:]:
        r.update(D_fake=0.01, D_acc=1.0)
    assert det.d_overpowering(recs).severity == "warning"
    recs[-1]["gnorm_G"] = 0.01  # G's gradient vanishes
    f = det.d_overpowering(recs)
    assert f.severity == "problem" and f.evidence["gnorm_G"] == "0.01"
    recs[-3]["D_acc"] = 0.9  # not sustained
    assert det.d_overpowering(recs) is None
    recs[-3].update(D_acc=0.96, D_fake=0.08)  # an R1-regularised D that still wins every round
    assert det.d_overpowering(recs) is not None
    recs[-3]["D_fake"] = 0.3  # G fools D a third of the time: no finding
    assert det.d_overpowering(recs) is None


def test_mode_collapse_from_modes_and_diversity():
    recs = healthy(10)
    for r in recs[-2:]:
        r["modes"] = 2
    f = det.mode_collapse(recs)
    assert f.severity == "problem" and f.evidence["modes"] == "2/8" and f.onset == recs[-2]["step"]
    recs = healthy(10)
    for r in recs:
        r.pop("modes")
    for r in recs[-3:]:
        r["div"] = 0.1  # 0.9 -> 0.1
    assert det.mode_collapse(recs).severity == "problem"
    recs[-1]["div"] = 0.5
    assert det.mode_collapse(recs) is None
    # a generator that starts with low diversity and has not yet spread out is not collapsing
    rising = [dict(r, div=0.05 + 0.01 * i) for i, r in enumerate(healthy(10))]
    for r in rising:
        r.pop("modes")
    assert det.mode_collapse(rising) is None


def test_mode_collapse_when_modes_are_never_reached():
    stuck = [dict(r, modes=1 + i % 2, of_modes=25, div=0.3) for i, r in enumerate(healthy(8))]
    f = det.mode_collapse(stuck)  # 1-2 of 25 modes for 8 logs: never more than a quarter
    assert f.severity == "problem" and f.step == 400 and f.evidence["modes"] == "2/25"
    assert det.mode_collapse(stuck[:7]) is None  # too early to tell
    slow = [dict(r, modes=min(25, 4 * (i + 1)), of_modes=25, div=0.3) for i, r in enumerate(healthy(8))]
    assert det.mode_collapse(slow) is None  # still spreading: 32 -> capped 25 modes


def test_mode_imbalance_when_every_mode_is_reached_but_unevenly():
    n = 4 * det.SUSTAIN  # the window the imbalance must last
    recs = [dict(r, of_modes=25, modes=25, mode_rkl=0.05) for r in healthy(n + 5)]
    assert det.mode_imbalance(recs) is None and det.detect(recs) == []  # balanced
    for r in recs[-n:]:
        r["mode_rkl"] = 0.35
    f = det.mode_imbalance(recs)
    assert f.severity == "warning" and f.evidence["reverse_kl"] == "0.35" and f.onset == recs[-n]["step"]
    assert "--pack 2" in f.advice and "mode_imbalance" in [x.finding for x in det.detect(recs)]
    recs[-3]["mode_rkl"] = 0.1  # not sustained (healthy runs swing above the line early on)
    assert det.mode_imbalance(recs) is None
    recs[-3]["mode_rkl"] = 0.35
    assert det.mode_imbalance(recs[-n + 1:]) is None  # too early in training
    recs[-1]["modes"] = 23  # a 256-sample probe misses a rare mode of an uneven G: still counted
    assert det.mode_imbalance(recs).evidence["modes"] == "23/25"
    recs[-1]["modes"] = 12  # half the modes gone: mode_collapse's business, not this one's
    assert det.mode_imbalance(recs) is None


def test_memorisation_share_rising():
    recs = healthy(6)
    recs[1]["near_copy"], recs[3]["near_copy"] = 0.01, 0.015
    assert det.memorisation(recs) is None
    recs[4]["near_copy"], recs[5]["near_copy"] = 0.3, 0.4
    f = det.memorisation(recs)
    assert f.severity == "problem" and f.onset == recs[4]["step"]
    recs[4]["near_copy"], recs[5]["near_copy"] = 0.025, 0.03  # 2.5x the fresh-sample rate, rising
    assert det.memorisation(recs).severity == "warning"
    recs[1]["near_copy"] = 0.04  # as high at the first check: the data's own, not a rise
    assert det.memorisation(recs) is None


def test_d_too_weak_and_oscillation_are_warnings():
    flat = [dict(r, D_real=0.5, D_fake=0.495, D_acc=0.5, div=0.1) for r in healthy(25)]
    assert det.d_too_weak(flat).severity == "warning"
    assert det.d_too_weak([dict(r, div=0.9) for r in flat]) is None  # equilibrium with diverse samples
    swing = [dict(r, g_loss=3.0 if i % 2 else 0.2, modes=3) for i, r in enumerate(healthy(25))]
    assert det.oscillation(swing).severity == "warning"
    improving = [dict(r, modes=1 + i // 3) for r in swing for i in [swing.index(r)]]
    assert det.oscillation(improving) is None


def test_doctor_replays_a_log_without_monitor(tmp_path):
    from ganforge.monitor.doctor import diagnose, format_diagnosis
    recs = healthy(8)
    recs[-1]["d_loss"] = float("inf")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    d = diagnose(tmp_path)
    assert d["worst"] == "problem" and d["findings"][0]["finding"] == "nan"
    assert "advice" in format_diagnosis(d)


@pytest.mark.parametrize("mode", ["stop", "fix"])
def test_nan_injection_end_to_end(tmp_path, mode):
    import ganforge
    from ganforge.io.checkpoint import load_state
    torch.set_num_threads(1)
    out = tmp_path / mode
    run = ganforge.train("ring8", out=out, steps=300, log_every=20, ckpt_every=100, sample_every=1000,
                         hidden=32, depth=1, batch_size=64, on_problem=mode, progress=False,
                         callbacks=[InjectNaN(130)])  # no traceback: ends or recovers cleanly
    log = run.log
    nan = [r for r in log if r.get("finding") == "nan"]
    assert nan and nan[0]["step"] == 140 and nan[0]["severity"] == "problem"  # next log step
    state = load_state(out / "checkpoint.safetensors")
    assert all(torch.isfinite(t).all() for t in state["nets"]["G"].values())
    if mode == "stop":
        stop = [r for r in log if r.get("action") == "stop"]
        assert stop and stop[0]["kept_step"] == 100 and run.step == 100  # last healthy save before 130 (0, 100)
    else:
        fix = [r for r in log if r.get("action") == "fix"]
        assert fix and fix[0]["rolled_back_to"] == 100 and "lr_G" in fix[0]["change"]
        assert run.step == 300  # recovered and finished
        losses = [r for r in log if "d_loss" in r]
        assert math.isfinite(losses[-1]["d_loss"]) and losses[-1]["lr_D"] < losses[0]["lr_D"]
        from ganforge.monitor.doctor import diagnose
        assert any(a.get("action") == "fix" for a in diagnose(out)["actions"])
        from ganforge.report.html import write_report
        page = write_report(out, evaluate=False).read_text()
        assert 'id="health"' in page and "rolled back to step 100" in page


def test_fix_rolled_back_to_step_0_equals_the_fixed_settings_from_the_start(tmp_path):
    """A fault found before any later healthy save rolls back to step 0 (weights, optimisers,
    data stream, RNG); the fixed run must then be exactly the run a user would have got with
    the fix's settings from the start. benchmarks/monitor.py's from-start row relies on this."""
    import ganforge
    from ganforge.io.checkpoint import load_state
    torch.set_num_threads(1)
    small = dict(steps=120, log_every=20, ckpt_every=1000, sample_every=1000, hidden=32, depth=1,
                 batch_size=64, progress=False)
    fixed = ganforge.train("ring8", out=tmp_path / "fix", on_problem="fix", callbacks=[InjectNaN(50)], **small)
    fix = [r for r in fixed.log if r.get("action") == "fix"]
    assert fix and fix[0]["rolled_back_to"] == 0 and fixed.step == 120
    assert "lr_G 0.001 -> 0.0005" in fix[0]["change"]  # the nan fix halves both lrs
    ganforge.train("ring8", out=tmp_path / "start", lr_g=0.5e-3, lr_d=0.5e-3, **small)  # ring8 lr 1e-3, halved
    a, b = (load_state(tmp_path / d / "checkpoint.safetensors") for d in ("fix", "start"))
    for net in ("G", "D"):
        for k, v in a["nets"][net].items():
            assert torch.equal(v, b["nets"][net][k]), (net, k)


def test_doctor_cli(cli, tmp_path):
    import ganforge
    ganforge.train("ring8", out=tmp_path / "r", steps=40, log_every=10, hidden=16, depth=1, batch_size=32,
                   progress=False)
    code, out, err = cli("doctor", tmp_path / "r")
    assert code == 0, err
    assert "status now: healthy" in out and "logged live by the health monitor" in out
    code, out, err = cli("doctor", tmp_path / "nothing")
    assert code == 2 and "not a ganforge run" in err
    code, out, err = cli("train", "ring8", "--on-problem", "mend", "--out", tmp_path / "x")
    assert code == 2


def test_fix_remedies_change_the_live_training_setup(tmp_path):
    from ganforge.families.resolve import resolve
    from ganforge.data import load_dataset
    from ganforge.monitor import remedy
    from ganforge.families import build_family, family_class
    from ganforge.engine.loop import Trainer
    from ganforge.io.rundir import RunDir

    def trainer(**opts):
        data = load_dataset("ring8")
        cfg = resolve(family_class("vanilla"), dict(data="ring8", steps=10, **opts), data.meta(), "ring8")
        return Trainer(build_family(cfg, data.meta()), data, cfg, RunDir(tmp_path / str(len(opts))), progress=False)

    def lr(tr, phase):
        return tr.optimizers[phase].param_groups[0]["lr"]

    strong = trainer(lr_g=1e-5, lr_d=2e-3, n_critic=5)  # D far ahead of G
    change = remedy.apply(strong, "d_overpowering")
    assert "n_critic 5 -> 1" in change and strong.family.phases[0].repeats == 1
    assert lr(strong, "G") == pytest.approx(2e-3) and lr(strong, "D") == pytest.approx(2e-3)
    hopping = trainer(loss="minimax", r1_gamma=0.0, lr_g=1e-3, lr_d=1e-4, ema_decay=0.0)  # G 10x faster than D
    before_fix = hopping.state_dict()  # a healthy state saved before the EMA existed
    change = remedy.apply(hopping, "mode_collapse")
    assert hopping.cfg.loss == "ns" and hopping.cfg.r1_gamma == remedy.R1_START
    assert lr(hopping, "D") == pytest.approx(1e-3) and lr(hopping, "G") == pytest.approx(1e-3)
    assert "EMA" in change and hopping.cfg.ema_decay == remedy.EMA_START and hopping.ema is not None
    hopping.run.path.mkdir(parents=True)
    hopping.fit()  # the EMA copy trains along and becomes the sampling net
    G, avg = hopping.family.nets["G"], hopping.ema.copies["G"]
    assert hopping.generator().net is avg
    assert any(not torch.equal(a, b) for a, b in zip(G.parameters(), avg.parameters()))
    hopping.load_state_dict(before_fix)  # a later rollback: the EMA restarts from that G
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), avg.parameters()))
    assert remedy.apply(hopping, "mode_collapse").count("EMA") == 0  # started only once
    exploding = trainer(lr_g=0.05, lr_d=0.05)
    remedy.apply(exploding, "divergence")
    assert lr(exploding, "G") == pytest.approx(0.005) and lr(exploding, "D") == pytest.approx(0.005)


def test_fix_treats_collapse_under_an_overpowering_d_as_the_d():
    from ganforge.monitor.detectors import Finding
    from ganforge.monitor.monitor import root_cause
    collapse = Finding("mode_collapse", "problem", 400, 0)
    over = Finding("d_overpowering", "warning", 400, 200)
    picked = root_cause([collapse], [collapse, over])
    assert picked.finding == "d_overpowering" and picked.severity == "problem"
    assert root_cause([collapse], [collapse]) is collapse  # D not winning: a plain collapse
    nan = Finding("nan", "problem", 400, 400)
    assert root_cause([collapse, nan], [collapse, over, nan]) is nan
