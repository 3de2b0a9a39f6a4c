"""Per-step speed settings the loop applies once, before training: CPU threads, channels_last
for conv nets, fused Adam, optional torch.compile. None of them changes what is trained."""
from __future__ import annotations

import os
import time
import warnings

import torch
from torch import nn


def default_threads(world_size: int = 1) -> int:
    """Intra-op threads when the user set neither --threads nor OMP_NUM_THREADS.

    The cores this process may use, shared out between the ranks of one machine and capped at
    8 where scaling flattens, but only the ones idle right now. Measured on 2 cores: idle, 2
    threads train ring8 1.5x and the seed MLP 1.3x faster than 1; with the other core busy,
    2 threads ran 4x slower (OpenMP waits on the preempted thread). Thread count can change
    float summation order: pass --threads for bit-identical reruns."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_rank = max(1, cores // max(1, world_size))
    idle = int(cores - busy_cores() + 0.5)
    return max(1, min(per_rank, 8, idle))


def _cpu_times() -> tuple[int, int, int]:
    """(busy, total, cpus) jiffies from /proc/stat's aggregate line (Linux)."""
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    v = [int(x) for x in lines[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v) - idle, sum(v), sum(1 for ln in lines if ln.startswith("cpu") and ln[3:4].isdigit())


def busy_cores(window: float = 0.25) -> float:
    """How many cores other processes keep busy now: /proc/stat sampled over `window` seconds
    while this process sleeps (the 1-minute load average lags a finished job by minutes);
    the load average where /proc/stat is missing."""
    try:
        b0, t0, cpus = _cpu_times()
        time.sleep(window)
        b1, t1, _ = _cpu_times()
        return cpus * (b1 - b0) / max(1, t1 - t0)
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0


def set_threads(cfg, device: torch.device, world_size: int = 1) -> int | None:
    if device.type != "cpu":
        return None
    n = getattr(cfg, "threads", 0) or 0
    if not n:
        if os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()  # the user's choice stands
        # only ever lower torch's current setting: a caller's torch.set_num_threads(1) stands
        # (and then the 0.25 s idle-core measurement is skipped)
        current = torch.get_num_threads()
        n = 1 if current == 1 else min(current, default_threads(world_size))
    torch.set_num_threads(n)
    return n


def channels_last(family) -> None:
    """NHWC memory format for conv nets: the layout oneDNN/cuDNN kernels prefer. Parameters
    only; a NCHW input is converted by the first conv. Numerically the same maths."""
    for net in family.nets.values():
        if any(isinstance(m, nn.Conv2d) for m in net.modules()):
            net.to(memory_format=torch.channels_last)


def fuse_adam(optimizers: dict) -> None:
    """Switch Adam to the fused single-kernel step where this torch supports it on the device
    (CUDA, and CPU since torch 2.4); otherwise keep the multi-tensor (foreach) path."""
    for opt in optimizers.values():
        if type(opt) is not torch.optim.Adam:
            continue
        params = [p for g in opt.param_groups for p in g["params"]]
        if not params or not all(p.is_floating_point() for p in params):
            continue
        dev = params[0].device.type
        fused_ok = dev in ("cuda", "cpu") and not any(p.is_sparse for p in params)
        for g in opt.param_groups:
            if fused_ok:
                g["fused"], g["foreach"] = True, False
            else:
                g["foreach"] = True
        opt.defaults.update(fused=fused_ok, foreach=not fused_ok)


def compile_nets(family, cfg) -> list[str]:
    """torch.compile each net in place (nn.Module.compile keeps state_dict keys unchanged).
    D is left eager when the gradient penalty or R1 needs double backward, which compiled
    graphs do not support. Returns the names compiled; warns and compiles nothing when
    torch.compile cannot work here (no C++ compiler, unsupported platform)."""
    try:
        import shutil

        import torch._inductor  # noqa: F401
        from torch._inductor import cpp_builder  # noqa: F401
        if not (shutil.which("g++") or shutil.which("clang++") or torch.cuda.is_available()):
            raise RuntimeError("no C++ compiler (g++/clang++) on PATH")
    except Exception as e:  # noqa: BLE001 - any failure means: stay eager
        warnings.warn(f"--compile: torch.compile unavailable ({e}); training eagerly", stacklevel=2)
        return []
    eager = set(family.double_backward_nets())
    done = []
    for name, net in family.nets.items():
        if name in eager:
            continue
        net.compile(dynamic=False)
        _fall_back_when_compiling_fails(net, name)
        done.append(name)
    return done


def _fall_back_when_compiling_fails(net: nn.Module, name: str) -> None:
    """torch.compile compiles at a net's first call (and again when its inputs change), so an
    Inductor failure would surface mid-training. Compile the backward at that same call (not
    lazily at the first backward) and, if anything fails, run the net eagerly from then on with
    one warning. A failing compile raises before any computation, so the eager retry is the step
    that would have run; an error in the net itself raises again from the eager call."""
    compiled = net._compiled_call_impl

    def call(*args, **kwargs):
        try:
            with _compile_backward_now():
                return compiled(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - BackendCompilerFailed, InductorError, C++ build errors
            out = net._call_impl(*args, **kwargs)
            net._compiled_call_impl = None
            cause = getattr(e, "inner_exception", None) or e  # dynamo wraps the backend's error
            first = (str(cause).strip().splitlines() or [""])[0][:160]
            warnings.warn(f"--compile: compiling {name} failed ({type(cause).__name__}: {first}); "
                          f"it trains eagerly", stacklevel=2)
            return out

    net._compiled_call_impl = call


def _compile_backward_now():
    try:
        import torch._functorch.config as aot
        if hasattr(aot, "force_non_lazy_backward_lowering"):
            return aot.patch(force_non_lazy_backward_lowering=True)
    except ImportError:
        pass
    import contextlib
    return contextlib.nullcontext()


def match_layouts(optimizers: dict) -> None:
    """Loaded optimiser state is contiguous; give it its parameter's memory format (channels_last
    params) so fused/foreach kernels pair elements the same way as in an unbroken run."""
    for opt in optimizers.values():
        for g in opt.param_groups:
            for p in g["params"]:
                for k, v in opt.state.get(p, {}).items():
                    if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                        opt.state[p][k] = torch.empty_like(p).copy_(v)
