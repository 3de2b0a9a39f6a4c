"""The generic loop: exact resume, several-network families, losses and regularisers."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import ganforge
from ganforge.families.gan import VanillaOptions
from ganforge.families.options import RunOptions
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.families import Family, Phase
from ganforge.families.losses import d_loss, g_loss, gradient_penalty, r1_penalty
from ganforge.io.checkpoint import read_metadata, save_state
from ganforge.engine.loop import Trainer
from ganforge.io.rundir import RunDir

from conftest import FAST
from learning import KeepStart, energy_distance


def _same_checkpoints(a, b):
    A, B = load_file(str(a / "checkpoint.safetensors")), load_file(str(b / "checkpoint.safetensors"))
    assert A.keys() == B.keys()
    differ = [k for k in A if not torch.equal(A[k], B[k])]
    assert not differ, f"differ: {differ[:5]}"
    return A


@pytest.mark.parametrize("data,model,extra", [
    ("digits", "cgan", dict(ac_weight=0.5, spectral_norm=True, channels=16)),
    ("ring8", "vanilla", dict(lr_decay=False, loss="wgan-gp", n_critic=2)),
])
def test_resume_is_bit_identical(tmp_path, data, model, extra):
    opts = dict(FAST, model=model, **extra)
    ganforge.train(data, out=tmp_path / "a", steps=20, **opts)
    ganforge.train(data, out=tmp_path / "b", steps=10, **opts)
    ganforge.train(data, out=tmp_path / "b", steps=20, resume=True, **opts)
    tensors = _same_checkpoints(tmp_path / "a", tmp_path / "b")
    assert any(k.startswith("s.optimizers.D") for k in tensors)  # optimiser state is in there
    assert any(k.startswith("s.ema.G") for k in tensors)
    # the resumed log has no duplicate or missing steps
    steps = [r["step"] for r in RunDir(tmp_path / "b").read_log()]
    assert steps == [5, 10, 15, 20]


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    """A run killed with SIGKILL after a checkpoint resumes to the same weights as a straight run."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text("hidden: 32\ndepth: 1\nsteps: 1000\nckpt_every: 50\nsample_every: 100000\nlog_every: 50\n")
    base = [sys.executable, "-m", "ganforge", "train", "ring8", "--config", str(cfg), "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    straight = subprocess.run(base + ["--out", str(tmp_path / "a")], env=env, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    proc = subprocess.Popen(base + ["--out", str(tmp_path / "b")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "b" / "checkpoint.safetensors"
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists() and read_metadata(ckpt)["step"] >= 100:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = read_metadata(ckpt)["step"]
    assert 100 <= killed_at < 1000, "the run finished before it could be killed"
    resumed = subprocess.run(base + ["--out", str(tmp_path / "b"), "--resume"], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    _same_checkpoints(tmp_path / "a", tmp_path / "b")


class TwoWayFamily(Family):
    """A toy CycleGAN: G_ab, G_ba, D_a, D_b on unpaired 2D points, adversarial + cycle loss.
    Defined here, outside the package, to prove the loop needs no special case for it."""

    def __init__(self):
        def mlp(i, o):
            return nn.Sequential(nn.Linear(i, 32), nn.ReLU(), nn.Linear(32, o))
        self.name = "toy-cycle"
        self.nets = {"G_ab": mlp(2, 2), "G_ba": mlp(2, 2), "D_a": mlp(2, 1), "D_b": mlp(2, 1)}
        self.specs = {k: {"net": "toy", "kwargs": {}} for k in self.nets}
        self.generator_name = "G_ab"
        self.phases = [Phase("G", ("G_ab", "G_ba"), self.g_step, 5e-3),
                       Phase("D", ("D_a", "D_b"), self.d_step, 5e-3, fresh_batch=False)]

    def g_step(self, batch, ctx):
        a, b = batch[0][:, :2], batch[0][:, 2:]
        fake_b, fake_a = self.nets["G_ab"](a), self.nets["G_ba"](b)
        cycle = (self.nets["G_ba"](fake_b) - a).abs().mean() + (self.nets["G_ab"](fake_a) - b).abs().mean()
        adv = g_loss("ls", self.nets["D_b"](fake_b)) + g_loss("ls", self.nets["D_a"](fake_a))
        ctx["fake_a"], ctx["fake_b"] = fake_a.detach(), fake_b.detach()  # reused by the D phase
        return adv + 10 * cycle, {"g_loss": adv.detach(), "cycle": cycle.detach()}

    def d_step(self, batch, ctx):
        a, b = batch[0][:, :2], batch[0][:, 2:]
        loss = (d_loss("ls", self.nets["D_a"](a), self.nets["D_a"](ctx["fake_a"]))
                + d_loss("ls", self.nets["D_b"](b), self.nets["D_b"](ctx["fake_b"])))
        return loss, {"d_loss": loss.detach()}

    def sampler_info(self):
        return {"input": "translate"}


def test_two_generators_two_discriminators_train_through_the_same_loop(tmp_path):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 2, generator=g) * 0.3
    b = torch.randn(4000, 2, generator=g) * 0.3 + torch.tensor([3.0, -1.0])
    data = Dataset("two-domains", "points", torch.cat([a, b[torch.randperm(4000, generator=g)]], 1))
    cfg = RunOptions(steps=1000, batch_size=128, log_every=50, ckpt_every=1000, sample_every=10**6)
    fam = TwoWayFamily()
    trainer = Trainer(fam, data, cfg, RunDir(tmp_path), progress=False)
    trainer.fit()
    log = RunDir(tmp_path).read_log()
    assert log[-1]["cycle"] < 0.5 * log[0]["cycle"]
    with torch.no_grad():
        moved = fam.nets["G_ab"](a[:1000]).mean(0)
    assert torch.allclose(moved, torch.tensor([3.0, -1.0]), atol=0.5), moved
    state = load_file(str(tmp_path / "checkpoint.safetensors"))
    for net in ("G_ab", "G_ba", "D_a", "D_b"):
        assert any(k.startswith(f"s.nets.{net}.") for k in state)
    assert any(k.startswith("s.optimizers.G.") for k in state) and any(k.startswith("s.optimizers.D.") for k in state)


def test_gradient_penalty_interpolates_per_example():
    seen = {}

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.full((1, 3, 4, 4), 0.1))

        def forward(self, x, labels=None):
            seen["mix"] = x.detach()
            return ((x * self.w).flatten(1).sum(1), None)

    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    gp = gradient_penalty(Linear(), real, fake)
    # gradient of a linear critic is w everywhere: ||w|| = 0.1 * sqrt(48)
    assert torch.isclose(gp, (torch.tensor(0.1 * 48 ** 0.5) - 1) ** 2, atol=1e-5)
    ratio = (seen["mix"] - fake) / (real - fake)
    per_example = ratio.flatten(1)
    assert torch.allclose(per_example, per_example[:, :1].expand_as(per_example), atol=1e-4)
    assert per_example[:, 0].std() > 0  # different examples get different alphas


def test_r1_penalty_matches_analytic_gradient():
    x = torch.randn(5, 2, requires_grad=True)
    logits = (x ** 2).sum(1)  # grad = 2x
    assert torch.isclose(r1_penalty(logits, x), (4 * x.detach() ** 2).sum(1).mean())


@pytest.mark.parametrize("kind", ["ns", "minimax", "hinge", "wgan-gp", "ls"])
def test_losses_push_the_right_way(kind):
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-2.0, -3.0])
    # D that separates well has lower loss than one that is fooled
    assert d_loss(kind, real, fake) < d_loss(kind, fake, real)
    # G's loss falls when D scores its fakes as more real
    assert g_loss(kind, real) < g_loss(kind, fake)


@pytest.mark.parametrize("loss", ["minimax", "hinge", "ls"])
def test_every_loss_learns_from_its_starting_point(tmp_path, loss):
    """30 steps on ring8 bring G's samples closer to fresh (held-out) draws than its starting
    point, by energy distance (measured: 0.72 at the start, 0.03-0.05 after 30 steps).
    wgan-gp is left out: with ring8's recipe it moved away from the data within 300 steps
    (energy 0.72 -> 2.1 at 60 steps), and it needs too many steps for a test."""
    keep = KeepStart()
    ganforge.train("ring8", out=tmp_path / loss, steps=30, loss=loss, r1_gamma=1.0, callbacks=[keep],
                   **dict(FAST, sample_every=30))
    trained, start = keep.models(tmp_path / loss)
    held_out = load_dataset("ring8").sampler(2000, torch.Generator().manual_seed(99))[0].numpy()
    e = [energy_distance(m.sample(2000, seed=1, filter=False).samples, held_out) for m in (trained, start)]
    assert e[0] < 0.2 * e[1], e


def test_seed_preset_is_the_classic_network(tmp_path):
    run = ganforge.train("mnist5k", preset="seed", out=tmp_path / "s", steps=2, **FAST)
    state = load_file(str(tmp_path / "s" / "checkpoint.safetensors"))
    shapes = {k.split("s.nets.")[1]: tuple(v.shape) for k, v in state.items()
              if k.startswith("s.nets.") and k.endswith("weight")}
    assert shapes["G.body.0.weight"] == (128, 100) and shapes["G.body.2.weight"] == (784, 128)
    assert shapes["D.features.1.weight"] == (128, 784) and shapes["D.head.out.weight"] == (1, 128)
    assert run.config["config"]["ema_decay"] == 0.0


def test_checkpoint_refuses_nan_weights(tmp_path):
    with pytest.raises(FloatingPointError, match="non-finite"):
        save_state(tmp_path / "c.safetensors", {"nets": {"w": torch.tensor([1.0, float("nan")])}})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_generate_only_sampling(tmp_path):
    ganforge.train("digits", model="cgan", out=tmp_path / "r", steps=5, **FAST)
    g = ganforge.load(tmp_path / "r")
    s = g.sample(7, labels=3)
    assert s.samples.shape == (7, 8, 8, 1) and s.samples.dtype.name == "uint8"
    assert (s.labels == 3).all()
    s2 = g.sample(7, labels=3)
    assert (s.samples == s2.samples).all()  # same seed, same samples


def test_lazy_r1_applies_k_times_gamma_every_kth_step():
    from ganforge.data import load_dataset
    from ganforge.families import build_family
    meta = load_dataset("ring8").meta()
    real = torch.randn(8, 2)

    def d_loss_at(step, **opts):
        torch.manual_seed(0)  # the same G and D for every variant
        family = build_family(VanillaOptions(data="ring8", model="vanilla", **opts).validate(), meta)
        torch.manual_seed(1)  # the same fake batch
        return family.d_step((real, None), {"step": step})[0]

    plain = d_loss_at(1)
    assert torch.isclose(d_loss_at(1, r1_gamma=1.0, r1_every=2), plain)  # off-step: no penalty
    every = d_loss_at(2, r1_gamma=1.0) - plain                           # γ·R1/2 each step
    lazy = d_loss_at(2, r1_gamma=1.0, r1_every=2) - plain                # 2γ·R1/2 every 2nd step
    assert every > 0 and torch.isclose(lazy, 2 * every, rtol=1e-3)  # float32 loss differences


def test_r1_batch_penalises_only_the_first_k_real_examples():
    from ganforge.data import load_dataset
    from ganforge.families import build_family
    meta = load_dataset("ring8").meta()

    def d_loss(real, **opts):
        torch.manual_seed(0)
        family = build_family(VanillaOptions(data="ring8", model="vanilla", r1_gamma=1.0, **opts).validate(), meta)
        torch.manual_seed(1)
        return family.d_step((real, None), {"step": 0})[0]

    half = torch.randn(4, 2) * 3
    doubled = torch.cat([half, half])  # R1 over all 8 rows == R1 over the first 4
    assert torch.isclose(d_loss(doubled, r1_batch=4), d_loss(doubled), rtol=1e-4)
    distinct = torch.cat([half, torch.randn(4, 2) * 0.1])
    assert not torch.isclose(d_loss(distinct, r1_batch=4), d_loss(distinct), rtol=1e-4)
    with pytest.raises(ganforge.GanforgeError, match="r1-batch"):
        VanillaOptions(r1_batch=-1).validate()
