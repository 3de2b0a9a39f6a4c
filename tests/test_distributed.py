"""torchrun data parallel on CPU (gloo): 2 processes stay in sync, and their checkpoint resumes
in a single process. Launched as a user would: python -m torch.distributed.run ... -m ganforge."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

import ganforge
from ganforge.nets import build_net
from ganforge.io.checkpoint import load_state
from ganforge.engine.distributed import weights_hash


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(tmp_path, out, *args):
    cfg = tmp_path / f"{out}.yaml"
    cfg.write_text("\n".join(args[1:]) + "\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(_free_port()), "-m", "ganforge", "train", args[0], "--config", str(cfg),
           "--out", str(tmp_path / out), "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp_path / out


@pytest.mark.parametrize("data,opts", [
    ("ring8", ["hidden: 32", "depth: 1", "steps: 20", "log_every: 5", "ckpt_every: 10",
               "sample_every: 20", "loss: wgan-gp"]),
    ("digits", ["model: dcgan", "channels: 8", "batch_size: 16", "steps: 6", "log_every: 3",
                "ckpt_every: 6", "sample_every: 6"]),
])
def test_two_ranks_stay_identical_and_resume_alone(tmp_path, data, opts):
    run = _torchrun(tmp_path, data, data, *opts)
    doc = json.loads((run / "distributed.json").read_text())
    assert doc["world_size"] == 2 and doc["backend"] == "gloo"
    assert doc["in_sync"] and len(set(doc["weights_sha256"])) == 1
    state = load_state(run / "checkpoint.safetensors")  # rank 0's checkpoint = every rank's weights
    nets = {k: build_net(s) for k, s in state["specs"].items()}
    for k, n in nets.items():
        n.load_state_dict(state["nets"][k])
    assert weights_hash(nets) == doc["weights_sha256"][0]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps_logged = [r["step"] for r in log]
    assert len(steps_logged) == len(set(steps_logged)), "only rank 0 writes the log"
    # the same run continues in one process (a different world size) from that checkpoint
    cfg = dict(line.split(": ") for line in opts)
    steps = int(cfg.pop("steps"))
    kw = {k: (v if not v.isdigit() else int(v)) for k, v in cfg.items()}
    resumed = ganforge.train(data, out=run, resume=True, steps=steps + 4, progress=False, **kw)
    assert resumed.step == steps + 4


NAN_RUN = """
import os
import sys
sys.path.insert(0, {tests!r})
import ganforge
from conftest import InjectNaN
ganforge.train("ring8", out={out!r}, hidden=32, depth=1, steps=60, log_every=10, ckpt_every=20,
               sample_every=1000, threads=1, on_problem={mode!r}, progress=False, callbacks=[InjectNaN(30)])
tasks = [open(f"/proc/self/task/{{t}}/comm").read().strip() for t in os.listdir("/proc/self/task")]
with open({out!r} + ".threads" + os.environ["RANK"], "w") as f:  # one file per rank: prints interleave
    f.write(" ".join(sorted(tasks)))
"""


@pytest.mark.parametrize("mode", ["warn", "fix"])
def test_nan_under_torchrun_ends_cleanly_on_every_rank_and_resumes_alone(tmp_path, mode):
    """A NaN at step 30 (rank 0's gradient, spread by the all-reduce): every rank restores the
    same healthy state, so the collectives stay paired. warn: the job stops there, cleanly;
    fix: it rolls back, halves the learning rates on every rank and trains to the end. The
    checkpoint holds each rank's RNG state and resumes in one process. (Before: rank 1 went on
    alone and the job hung.)"""
    out, script = tmp_path / mode, tmp_path / f"{mode}.py"
    script.write_text(NAN_RUN.format(tests=os.path.dirname(__file__), out=str(out), mode=mode))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(_free_port()), str(script)]
    p = subprocess.Popen(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log_text, _ = p.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        pytest.fail("the 2-rank run hung after the NaN")
    assert p.returncode == 0, log_text[-3000:]
    # the process group is really gone once training returns: gloo threads left running into
    # interpreter exit aborted a rank now and then ("terminate called without an active exception")
    threads = [(tmp_path / f"{mode}.threads{rank}").read_text() for rank in (0, 1)]
    assert not any("gloo" in t for t in threads), threads
    doc = json.loads((out / "distributed.json").read_text())
    assert doc["in_sync"], doc
    state = load_state(out / "checkpoint.safetensors")
    ranks = state["rng"]["ranks"]
    assert len(ranks) == 2 and all(r.dtype == torch.uint8 and r.numel() > 1000 for r in ranks)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    actions = [r for r in log if "action" in r]
    if mode == "warn":
        assert actions[0]["action"] == "stop" and state["step"] == doc["step"] == actions[0]["kept_step"] < 30
    else:  # ring8's recipe: lr 1e-3 decaying linearly to 0 at step 60; the fix halved it
        assert actions[0]["action"] == "fix" and state["step"] == doc["step"] == 60
        lr = {r["step"]: r["lr_G"] for r in log if "lr_G" in r}
        assert lr[40] == pytest.approx(0.5e-3 * (1 - 40 / 60))
    resumed = ganforge.train("ring8", out=out, resume=True, steps=state["step"] + 10, progress=False)
    assert resumed.step == state["step"] + 10


OWN_GROUP_RUN = """
import json
import os
import torch
import torch.distributed as dist
import ganforge
dist.init_process_group("gloo")  # the caller's own group, made before ganforge runs
ganforge.train("ring8", out={out!r}, hidden=16, depth=1, steps=10, log_every=5, ckpt_every=10,
               sample_every=1000, threads=1, progress=False)
t = torch.ones(1)
dist.all_reduce(t)  # still usable after training
dist.destroy_process_group()
tasks = [open(f"/proc/self/task/{{t}}/comm").read().strip() for t in os.listdir("/proc/self/task")]
with open({out!r} + ".rank" + os.environ["RANK"], "w") as f:  # one file per rank: prints interleave
    f.write(json.dumps({{"sum": t.item(), "threads": tasks}}))
"""


def test_a_process_group_the_caller_made_outlives_training(tmp_path):
    script = tmp_path / "own.py"
    script.write_text(OWN_GROUP_RUN.format(out=str(tmp_path / "run")))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(_free_port()), str(script)]
    p = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"run.rank{r}").read_text()) for r in (0, 1)]
    assert all(r["sum"] == 2.0 for r in ranks), ranks
    # the caller's destroy_process_group really ends gloo's threads: ganforge loads torch._dynamo
    # under torchrun at import, before the caller's group exists (else that group leaks)
    assert not any("gloo" in " ".join(r["threads"]) for r in ranks), ranks
    assert json.loads((tmp_path / "run" / "distributed.json").read_text())["in_sync"]
