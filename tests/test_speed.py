"""Mixed precision and speed settings of the one loop (train/precision.py, train/perf.py)."""
import pytest
import torch

import ganforge
from ganforge.families.options import RunOptions
from ganforge.data.mixtures import mixture_means
from ganforge.io.errors import GanforgeError
from ganforge.nets import build_net
from ganforge.families.losses import gradient_penalty, r1_penalty
from ganforge.engine.precision import Precision, resolve_precision

from conftest import FAST

CPU = torch.device("cpu")


def test_auto_precision_follows_the_family_and_the_cpu(monkeypatch):
    from ganforge.engine import precision
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("auto", CPU, fast_path=False) == "fp32"  # 2D/tabular/image-to-image
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU, fast_path=True) == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)  # emulated bf16: slower
    assert resolve_precision("auto", CPU, fast_path=True) == "fp32"
    with pytest.raises(GanforgeError, match="CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(GanforgeError, match="precision"):
        RunOptions(precision="fp8").validate()


def test_fast_path_defaults_reach_image_gans_only(tmp_path, monkeypatch):
    """dcgan on images: auto -> bf16 (on a native-bf16 CPU) and NHWC weights unless
    --no-channels-last; vanilla on 2D points stays fp32; config.json and `info` say which."""
    import json
    from click.testing import CliRunner
    from ganforge.cli import cli
    from ganforge.engine import precision
    from ganforge.engine.loop import Trainer
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    nhwc = []  # per Trainer with conv nets: is a multi-channel D conv weight NHWC?
    real_init = Trainer.__init__

    def spy(self, family, *a, **k):
        real_init(self, family, *a, **k)
        convs = [m.weight for m in family.nets["D"].modules()
                 if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1]  # C=1: both layouts agree
        if convs:
            nhwc.append(convs[0].is_contiguous(memory_format=torch.channels_last) and not convs[0].is_contiguous())
    monkeypatch.setattr(Trainer, "__init__", spy)
    opts = dict(FAST, steps=2, sample_every=10**6, ckpt_every=10**6)
    conv = ganforge.train("digits", out=tmp_path / "c", model="dcgan", channels=8, **opts)
    mlp = ganforge.train("ring8", out=tmp_path / "m", hidden=16, depth=1, **opts)
    ganforge.train("digits", out=tmp_path / "c2", model="dcgan", channels=8, channels_last=False, **opts)
    assert nhwc == [True, False]
    cfg = {n: json.loads((r.path / "config.json").read_text()) for n, r in (("c", conv), ("m", mlp))}
    assert cfg["c"]["precision"] == "bf16" and cfg["m"]["precision"] == "fp32"
    shown = CliRunner().invoke(cli, ["info", str(conv.path)])
    assert shown.exit_code == 0 and "2/2 steps (bf16)" in shown.output, shown.output


def test_bf16_keeps_outputs_and_penalties_fp32_and_close_to_fp32():
    torch.manual_seed(0)
    D = build_net({"net": "mlp_d", "kwargs": dict(in_shape=[2], hidden=64, depth=2)})
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    torch.manual_seed(1)
    gp32 = gradient_penalty(D, real, fake)
    prec = Precision("bf16", CPU, {"D": D})
    torch.manual_seed(1)
    with prec.autocast():
        out = D(real)[0]
        gp16 = gradient_penalty(D, real, fake)
    assert out.dtype == torch.float32 and gp16.dtype == torch.float32
    assert torch.allclose(gp16, gp32, rtol=0.05, atol=1e-3), (gp16.item(), gp32.item())
    x = real.clone().requires_grad_(True)
    r1_32 = r1_penalty(D(x)[0], x)
    with prec.autocast():
        x = real.clone().requires_grad_(True)
        r1_16 = r1_penalty(D(x)[0], x)
    assert torch.allclose(r1_16, r1_32, rtol=0.05, atol=1e-4), (r1_16.item(), r1_32.item())


def _ring_distance(tmp_path, precision):
    run = ganforge.train("ring8", out=tmp_path / precision, steps=300, precision=precision, hidden=64,
                         depth=2, progress=False, log_every=100, sample_every=10**6, ckpt_every=10**6)
    x = torch.as_tensor(run.generator().sample(2000, seed=0).samples, dtype=torch.float32)
    d = torch.cdist(x, mixture_means("ring8")[0]).min(1).values
    return d.median().item()


def test_bf16_training_learns_ring8_like_fp32(tmp_path):
    """Short run (slow where bf16 is emulated, as on AVX2-only CPUs): the samples move onto the ring
    (an untrained G sits near the centre, distance ~1) as close as fp32's do."""
    bf16, fp32 = _ring_distance(tmp_path, "bf16"), _ring_distance(tmp_path, "fp32")
    assert bf16 < 0.5 and bf16 < 1.5 * fp32 + 0.05, (bf16, fp32)


def test_speed_settings_do_not_break_resume(tmp_path):
    """channels_last + fused Adam: a resumed run equals a straight one bit for bit."""
    from safetensors.torch import load_file
    opts = dict(FAST, model="dcgan", channels=8, channels_last=True)
    ganforge.train("digits", out=tmp_path / "a", steps=10, **opts)
    ganforge.train("digits", out=tmp_path / "b", steps=5, **opts)
    ganforge.train("digits", out=tmp_path / "b", steps=10, resume=True, **opts)
    A, B = (load_file(str(tmp_path / p / "checkpoint.safetensors")) for p in "ab")
    assert [k for k in A if not torch.equal(A[k], B[k])] == []


def test_compile_falls_back_with_a_warning(tmp_path, monkeypatch):
    """Without a C++ compiler --compile warns and trains eagerly (a real compile takes minutes
    on this 2-core machine, so it is exercised by benchmarks, not here)."""
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="--compile"):
        run = ganforge.train("ring8", out=tmp_path / "c", steps=4, compile=True, hidden=16, depth=1,
                             progress=False, log_every=2, sample_every=10**6, ckpt_every=10**6)
    assert run.step == 4


def test_image_gans_run_one_g_forward_per_step_points_keep_a_fresh_draw(tmp_path, monkeypatch):
    """dcgan: the G phase backpropagates through the D phase's fakes (Phase.keeps_graph), so G
    runs once per training step and still learns (its weights change); 2D vanilla keeps two."""
    from ganforge.engine.loop import Trainer
    seen = {"n": 0, "moved": False}
    real_step = Trainer._one_step

    def counting_step(self, sums):
        G = self.family.nets["G"]
        before = [p.detach().clone() for p in G.parameters()]
        hook = G.register_forward_hook(lambda *a: seen.__setitem__("n", seen["n"] + 1))
        try:
            real_step(self, sums)
        finally:
            hook.remove()
        seen["moved"] |= any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))
    monkeypatch.setattr(Trainer, "_one_step", counting_step)
    opts = dict(FAST, steps=6, log_every=10**6, sample_every=10**6, ckpt_every=10**6)
    ganforge.train("digits", out=tmp_path / "c", model="dcgan", channels=8, **opts)
    assert seen == {"n": 6, "moved": True}
    seen.update(n=0, moved=False)
    ganforge.train("ring8", out=tmp_path / "m", hidden=16, depth=1, **opts)
    assert seen == {"n": 12, "moved": True}


@pytest.mark.parametrize("bias", [False, True])
def test_resize_conv_is_nearest_upsampling_then_a_3x3_conv(bias):
    """ResizeConv computes nearest x2 + 3x3 conv as one transposed conv: same outputs, same
    gradients and the same state-dict keys as the plain two-layer version."""
    from torch import nn

    from ganforge.nets.conv import ResizeConv
    torch.manual_seed(0)
    fast = ResizeConv(6, 4, bias=bias)
    plain = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(6, 4, 3, 1, 1, bias=bias))
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 6, 5, 7)
    for inp in (x, x.to(memory_format=torch.channels_last)):
        torch.testing.assert_close(fast(inp), plain(x), rtol=1e-5, atol=1e-5)
    fast(x).square().sum().backward()
    plain(x).square().sum().backward()
    torch.testing.assert_close(fast[1].weight.grad, plain[1].weight.grad, rtol=1e-4, atol=1e-4)
