"""Faults a user meets: Ctrl-C, kill -9 while a checkpoint is being written, a full disk, two
trainings into one folder, an interrupted evaluate/report, fp16 overflow, and resume with
changed or extended options. Each test names what it promises."""
import errno
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import ganforge
from conftest import InjectNaN
from ganforge.engine import precision
from ganforge.io import checkpoint
from ganforge.io.checkpoint import load_state, read_metadata, stale_temp_files
from ganforge.io.lock import LOCK, RunLock
from ganforge.io.errors import GanforgeError

TINY = dict(hidden=32, depth=1, sample_every=100000, progress=False, threads=1)
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _same_weights(a, b):
    A, B = (load_file(str(p / "checkpoint.safetensors")) for p in (a, b))
    assert A.keys() == B.keys()
    differ = [k for k in A if not torch.equal(A[k], B[k])]
    assert not differ, f"differ: {differ[:5]}"


def _cmd(out, *args):
    return [sys.executable, "-m", "ganforge", "train", "ring8", "--hidden", "32", "--depth", "1",
            "--sample-every", "100000", "--threads", "1", "--quiet", "--out", str(out), *map(str, args)]


def _wait_for_step(ckpt, step, proc, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and read_metadata(ckpt)["step"] >= step:
            return
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint at step {step} (exit {proc.poll()})")


def _one_line(err, *needles):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_ctrl_c_saves_the_step_it_finished_and_resumes_bit_identical(cli, tmp_path):
    """A real SIGINT to a real training process: it stops at a step boundary, saves that step
    (not a state half-way through a step), says so in one line, exits 130; resuming ends
    bit-identical to a run that was never interrupted. The step saved is the one Ctrl-C ended
    (the line names it), not the last periodic checkpoint."""
    opts = ["--steps", 200, "--log-every", 20, "--batch-size", 64, "--lr-decay"]
    proc = subprocess.Popen(_cmd(tmp_path / "b", *opts, "--ckpt-every", 40), env=ENV, stderr=subprocess.PIPE, text=True)
    _wait_for_step(tmp_path / "b" / "checkpoint.safetensors", 40, proc)
    time.sleep(random.uniform(0, 0.1))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    stopped = read_metadata(tmp_path / "b" / "checkpoint.safetensors")["step"]
    assert 40 < stopped < 200, f"saved step {stopped}"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last == (f"interrupted at step {stopped}: checkpoint saved in {tmp_path / 'b'}; "
                    f"continue with `ganforge resume {tmp_path / 'b'}`"), err
    assert "Traceback" not in err and not (tmp_path / "b" / LOCK).exists()
    code, _, err = cli("resume", tmp_path / "b", "--quiet")
    assert code == 0, err
    assert cli(*_cmd(tmp_path / "a", *opts)[3:])[0] == 0  # the same run, never interrupted
    _same_weights(tmp_path / "a", tmp_path / "b")


def _train_until_killed(out, resume):
    """Child of a fork: train (checkpoint every step) until the parent kills it."""
    try:
        torch.set_num_threads(1)
        ganforge.train("ring8", out=out, resume=resume, steps=10**6, ckpt_every=1, log_every=50, lr_decay=False, **TINY)
    finally:
        os._exit(1)


def test_kill_9_during_checkpoint_writes_50_times_keeps_a_loadable_checkpoint_that_resumes_exactly(tmp_path):
    """50 kill -9 at random moments of a run that writes a checkpoint every step (so most kills
    land inside a write): after each, the checkpoint on disk loads, the next start clears the
    killed write's temp files and takes over the folder (the dead holder's lock is no lock),
    and the chain of 50 resumes ends bit-identical to one straight run."""
    out, rng, mid_write, steps = tmp_path / "b", random.Random(0), 0, [0]
    ckpt = out / "checkpoint.safetensors"
    ganforge.train("ring8", out=tmp_path / "warm", steps=2, **TINY)  # lazy imports done before forking
    for trial in range(50):
        pid = os.fork()
        if pid == 0:
            _train_until_killed(out, resume=ckpt.exists())
        deadline = time.time() + 60
        while not (ckpt.exists() and read_metadata(ckpt)["step"] > steps[-1]) and time.time() < deadline:
            time.sleep(0.005)  # the child has moved on from where its predecessor was killed
        time.sleep(rng.uniform(0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        mid_write += bool(stale_temp_files(out))
        steps.append(load_state(ckpt)["step"])  # whole, or the previous one: never half-written
    assert all(a < b for a, b in zip(steps, steps[1:])), steps
    assert mid_write >= 10, f"only {mid_write} of 50 kills landed inside a write"
    final = steps[-1] + 10
    ganforge.train("ring8", out=out, resume=True, steps=final, log_every=50, lr_decay=False, **TINY)
    assert not stale_temp_files(out)
    ganforge.train("ring8", out=tmp_path / "a", steps=final, log_every=50, lr_decay=False, **TINY)
    _same_weights(tmp_path / "a", out)


def test_disk_full_keeps_the_previous_checkpoint_and_says_so_in_one_line(cli, tmp_path, monkeypatch):
    """The checkpoint writer runs out of space half-way (ENOSPC) at the second checkpoint: one
    `error:` line, exit 2; the first checkpoint is intact, no temp file is left, and the run
    resumes from it to the same weights as a straight run."""
    real, calls = checkpoint.save_file, []

    def full_disk(tensors, path, metadata=None):
        if ".checkpoint.safetensors." in os.path.basename(path):
            calls.append(path)
            if len(calls) == 2:
                with open(path, "wb") as f:
                    f.write(b"\0" * 100)  # part of the file got out before the disk filled
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    out = tmp_path / "b"
    args = ["train", "ring8", "--hidden", 32, "--depth", 1, "--steps", 30, "--ckpt-every", 10,
            "--log-every", 10, "--sample-every", 1000, "--threads", 1, "--quiet"]
    code, _, err = cli(*args, "--out", out)
    assert code == 2
    _one_line(err, "error: cannot write", "checkpoint.safetensors", "No space left on device",
              "previous checkpoint.safetensors")
    assert load_state(out / "checkpoint.safetensors")["step"] == 10
    assert not stale_temp_files(out) and not (out / LOCK).exists()
    monkeypatch.setattr(checkpoint, "save_file", real)
    assert cli(*args, "--out", out, "--resume")[0] == 0
    assert cli(*args, "--out", tmp_path / "a")[0] == 0
    _same_weights(tmp_path / "a", out)


def test_a_second_training_into_a_busy_folder_is_refused_and_a_killed_holder_frees_it(cli, tmp_path):
    out = tmp_path / "r"
    first = subprocess.Popen(_cmd(out, "--steps", 10**6, "--ckpt-every", 20), env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_step(out / "checkpoint.safetensors", 20, first)
        code, _, err = cli("train", "ring8", "--out", out, "--resume", "--steps", 21, "--quiet")
        assert code == 2
        _one_line(err, "is in use", f"pid {first.pid}", "choose another --out")
    finally:
        first.kill()  # SIGKILL: no chance to remove its lock file
        first.wait()
    assert (out / LOCK).exists()  # left behind, but nobody holds it
    at = read_metadata(out / "checkpoint.safetensors")["step"]
    code, _, err = cli("train", "ring8", "--hidden", 32, "--depth", 1, "--out", out, "--resume",
                       "--steps", at + 5, "--quiet")
    assert code == 0, err
    assert not (out / LOCK).exists()  # released (and removed) on exit


def test_run_lock_is_exclusive_and_released(tmp_path):
    with RunLock(tmp_path / "r"):
        with pytest.raises(GanforgeError, match="is in use: ganforge pid"):
            RunLock(tmp_path / "r").acquire()
    with RunLock(tmp_path / "r"):  # free again
        pass


def test_interrupted_evaluate_and_report_leave_the_previous_outputs(tmp_path, monkeypatch):
    """Ctrl-C at the last moment of writing metrics.json / report.html (the new file complete,
    not yet in place): the previous file is untouched and no temp file stays behind."""
    from ganforge.metrics.evaluate import evaluate
    from ganforge.report.html import write_report
    run = ganforge.train("ring8", out=tmp_path / "r", steps=20, log_every=10, **TINY).path
    evaluate(run, n=200, kid_subsets=5)
    write_report(run, evaluate=False)
    before = {name: (run / name).read_bytes() for name in ("metrics.json", "report.html")}
    with open(run / "log.jsonl", "a") as f:  # the next report has something new to show
        f.write('{"step": 21, "d_loss": 1.0, "g_loss": 1.0}\n')

    def interrupted(*a):
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(run, n=300, seed=1, kid_subsets=5)  # other numbers than the saved ones
    with pytest.raises(KeyboardInterrupt):
        write_report(run, evaluate=False)
    for name, data in before.items():
        assert (run / name).read_bytes() == data, name
    assert not stale_temp_files(run)


def test_fp16_unscales_before_norms_and_skips_an_overflow_step(tmp_path, monkeypatch):
    """fp16 with a GradScaler (CPU autocast here): logged gradient norms are true-scale, and an
    overflowing gradient skips that update and halves the loss scale instead of stopping the run."""
    real = precision.resolve_precision
    monkeypatch.setattr(precision, "resolve_precision", lambda name, device, cfg=None, fast_path=False:
                        "fp16" if name == "fp16" else real(name, device, cfg, fast_path))
    weights = {}

    def snapshot(trainer, rec):
        weights[trainer.step] = next(trainer.family.nets["G"].parameters()).detach().clone()

    run = ganforge.train("ring8", out=tmp_path / "r", steps=12, log_every=1, precision="fp16",
                         callbacks=[snapshot, InjectNaN(6)], **TINY)  # G's gradient overflows in step 6
    recs = {r["step"]: r for r in run.log if "gnorm_D" in r}
    assert max(recs) == 12, "the overflow stopped the run"
    assert torch.equal(weights[5], weights[6]) and not torch.equal(weights[6], weights[7])
    assert recs[5]["loss_scale_G"] == 2 * recs[6]["loss_scale_G"] and recs[6]["loss_scale_D"] == 65536
    assert "gnorm_G" not in recs[6]  # the skipped step has no meaningful norm
    fp32 = ganforge.train("ring8", out=tmp_path / "f", steps=4, log_every=1, precision="fp32", **TINY)
    ref = max(r["gnorm_D"] for r in fp32.log if "gnorm_D" in r)
    assert all(r["gnorm_D"] < 10 * ref for r in recs.values())  # a scaled norm would be ~65536x


def test_resume_refuses_a_changed_lr_decay_or_warmup_in_one_line(cli, tmp_path):
    out = tmp_path / "r"
    assert cli("train", "ring8", "--hidden", 32, "--depth", 1, "--steps", 10, "--out", out, "--quiet")[0] == 0
    code, _, err = cli("train", "ring8", "--out", out, "--resume", "--steps", 20, "--no-lr-decay")
    assert code == 2  # was a raw KeyError (no scheduler state to load)
    _one_line(err, "cannot resume", "lr_decay=True, not False")
    from ganforge.families.colorize import ColorizeOptions
    from ganforge.families.options import identity_mismatch
    from ganforge.families.srgan import SRGANOptions
    assert "warmup_steps" in SRGANOptions.identity() and "warmup_steps" in ColorizeOptions.identity()
    assert identity_mismatch({"warmup_steps": 5}, SRGANOptions(warmup_steps=6)) == ["warmup_steps"]


def test_srgan_warmup_is_saved_as_a_number_so_extending_the_run_keeps_it(tmp_path):
    """The default warm-up is steps // 4 of the run as started; --steps at resume must not move it."""
    from ganforge.data.photos import builtin_photo
    from PIL import Image
    (tmp_path / "p").mkdir()
    Image.fromarray(builtin_photo("chelsea")[:64, :64]).save(tmp_path / "p" / "cat.png")
    opts = dict(model="srgan", scale=2, image_size=48, channels=4, batch_size=2, log_every=4,
                sample_every=1000, progress=False, threads=1)
    run = ganforge.train(str(tmp_path / "p"), out=tmp_path / "sr", steps=8, **opts)
    assert run.config["config"]["warmup_steps"] == 2
    run = ganforge.train(str(tmp_path / "p"), out=tmp_path / "sr", steps=16, resume=True, **opts)
    assert run.config["config"]["warmup_steps"] == 2 and run.step == 16


def test_extending_a_decayed_run_follows_the_new_totals_schedule_and_says_so(tmp_path, capsys):
    """--lr-decay, finished at 20 steps (lr 0), extended to 40: from step 20 the learning rates
    are those of a 40-step run (not 0, not the old plan), announced in one line."""
    opts = dict(lr_decay=True, log_every=5, **TINY)
    ganforge.train("ring8", out=tmp_path / "r", steps=20, **opts)
    capsys.readouterr()
    run = ganforge.train("ring8", out=tmp_path / "r", steps=40, resume=True, **opts)
    err = capsys.readouterr().err
    assert ("--steps 20 -> 40 with --lr-decay: from step 20 the learning rates follow a 40-step linear "
            "decay to 0 (lr_D 0 -> 0.0005, lr_G 0 -> 0.0005)") in err, err
    straight = ganforge.train("ring8", out=tmp_path / "s", steps=40, **opts)
    lr = {r["step"]: r["lr_G"] for r in straight.log if "lr_G" in r}
    assert [r["lr_G"] for r in run.log if r.get("step", 0) > 20 and "lr_G" in r] == [lr[s] for s in (25, 30, 35, 40)]
