"""Mixed precision for the one loop: `--precision {fp32,bf16,fp16,auto}`.

Nets run under torch.autocast; their outputs are cast back to fp32 by a forward hook, so the
losses, the gradient penalty and R1 (computed on those outputs and on fp32 inputs) stay fp32.
fp16 (CUDA only) adds a GradScaler per optimiser against gradient underflow.

`auto`, chosen by measurement (benchmarks/results/throughput.md), and only for families that
declare `fast_path` (noise-to-image nets); every other family trains in fp32, because bf16
keeps 8 mantissa bits: a 2D point at radius 1 moves in steps of 0.004 against ring8's sd of
0.01; the image-to-image regressions (PSNR/ΔE targets) were tuned and measured in fp32 only.
- CPU with native bf16 (AVX512-BF16 or AMX: `cpu_has_native_bf16`) -> bf16. On a 2-core AMD
  EPYC with AVX512-BF16 the best GEMM ran at 388 GFLOP/s in bf16 against 152 in fp32, and the
  DCGAN 28x28 training step 1.7-1.9x the eager fp32 step (2.0-2.3x with channels_last).
- CPU without it -> fp32. On an AVX2-only EPYC a bf16 1024^2 GEMM ran at 0.3 GFLOP/s against
  18.7 for fp32: bf16 is emulated there.
- CUDA -> bf16 where the GPU supports it (no scaler needed, fp32 exponent range), else fp16
  with a GradScaler; but fp32 for wgan-gp and R1 on fp16-only GPUs, because their inner
  autograd.grad is not loss-scaled and would underflow in fp16.
"""
from __future__ import annotations

import contextlib

import torch

from ..io.errors import GanforgeError

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX tiles: bf16 matmuls run in hardware, not emulated."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, c, lambda: False)() for c in checks)


def resolve_precision(name: str, device: torch.device, cfg=None, fast_path: bool = False) -> str:
    """The concrete precision ("fp32" | "bf16" | "fp16") for `name` on `device`; `auto` picks
    low precision only for a `fast_path` family."""
    if name not in PRECISIONS:
        raise GanforgeError(f"unknown --precision '{name}'; choose one of {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise GanforgeError("--precision fp16 needs a CUDA GPU (CPU autocast is bf16 only); "
                            "use --precision bf16 or fp32")
    if name != "auto":
        return name
    if not fast_path:
        return "fp32"
    if device.type != "cuda":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if torch.cuda.is_bf16_supported():
        return "bf16"
    needs_double_backward = cfg is not None and (getattr(cfg, "loss", "") == "wgan-gp" or getattr(cfg, "r1_gamma", 0) > 0)
    return "fp32" if needs_double_backward else "fp16"


def _to_fp32(module, args, out):
    """Forward hook: floating outputs (tensor, or tuple/list of them) back to fp32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (tuple, list)):
        return type(out)(_to_fp32(module, args, o) if o is not None else None for o in out)
    return out


class Precision:
    """autocast() around each phase's loss; backward()/step() handle fp16 loss scaling."""

    def __init__(self, name: str, device: torch.device, nets: dict, cfg=None, keys=(), fast_path=False):
        self.name = resolve_precision(name, device, cfg, fast_path)
        self.device_type = device.type
        self.dtype = _DTYPES.get(self.name)
        self._scalers: dict[str, torch.amp.GradScaler] = {}
        for k in keys:  # one scaler per optimiser, made now so its state is checkpointed
            self._scaler(k)
        if self.dtype is not None:
            for net in nets.values():
                net.register_forward_hook(_to_fp32)

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def _scaler(self, key: str):
        if self.name != "fp16":
            return None
        if key not in self._scalers:
            self._scalers[key] = torch.amp.GradScaler(self.device_type)
        return self._scalers[key]

    def backward(self, loss: torch.Tensor, key: str) -> None:
        s = self._scaler(key)
        (s.scale(loss) if s else loss).backward()

    def scaled(self, key: str) -> bool:
        return key in self._scalers

    def unscale(self, opt, key: str) -> None:
        """Before reading gradients (norms, clipping): bring them back to true scale. The loop
        calls it after the all-reduce; step() then skips the update if they overflowed."""
        s = self._scaler(key)
        if s:
            s.unscale_(opt)

    def scales(self) -> dict:
        """{loss_scale_<key>: current scale} (host sync: read at log steps only)."""
        return {f"loss_scale_{k}": s.get_scale() for k, s in self._scalers.items()}

    def step(self, opt, key: str) -> None:
        s = self._scaler(key)
        if s:
            s.step(opt)
            s.update()
        else:
            opt.step()

    def state_dict(self) -> dict:
        return {k: s.state_dict() for k, s in self._scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for k, s in state.items():
            self._scaler(k).load_state_dict(s)
