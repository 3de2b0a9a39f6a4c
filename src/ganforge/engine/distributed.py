"""Data-parallel training under torchrun: `torchrun --nproc-per-node N -m ganforge train ...`.

Maths of DistributedDataParallel, on torch.distributed's collectives (gloo on CPU, NCCL on
CUDA), applied by the one loop per phase:
- every rank starts from rank 0's weights (broadcast) and draws its own shard of each global
  batch of N x --batch-size (rank r takes slice r), so --batch-size is per rank;
- after each phase's backward, gradients of the nets that phase trains are averaged across
  ranks (one flat all-reduce) before the optimiser step, so weights stay identical everywhere.
We do not wrap the nets in the DDP module: the phases switch requires_grad between G and D,
and the gradient penalty and R1 call autograd.grad(create_graph=True), which DDP's reducer
hooks do not support. Averaging after the full backward makes both exact: each rank's
penalty is computed on its own shard, and the averaged gradient is the global-batch gradient.
- BatchNorm normalises with per-rank batch statistics (as DDP does by default); running
  buffers are broadcast from rank 0 after each step (DDP's broadcast_buffers). Samples use
  standing statistics recomputed at checkpoint time anyway.
- EMA is updated on every rank from identical weights, so every rank holds the same EMA.
- Noise RNG is per rank (seeded from --seed and the rank); every rank's RNG state is saved, so
  resume at the same world size is exact. At another world size the weights, optimisers,
  EMA and data position carry over exactly and noise RNGs are re-seeded (documented in README).
- Rank 0 alone writes logs, previews, checkpoints and runs callbacks; what they decide is
  broadcast at that log step, so every rank takes the same branch and every collective pairs:
  a StopTraining, a state the health monitor rolled back to and the options a fix changed
  (the whole state is sent; each rank restores its own noise RNG from it), and a Ctrl-C
  on any rank (stop and checkpoint at that log step).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from ..io.checkpoint import atomic_write_text
from ..io.errors import GanforgeError

if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # Under torchrun, load torch._dynamo now, before any process group exists (including one the
    # caller makes after `import ganforge`): see TorchDist.device. Alone, nothing pays its ~2 s.
    importlib.import_module("torch._dynamo")


class ShardedStream:
    """Draw a global batch of world x batch from the single-process stream; keep slice `rank`.
    State is the underlying stream's, counted in examples, so it is valid at any world size."""

    def __init__(self, data, batch_size: int, seed: int, rank: int, world: int):
        self.inner = data.stream(batch_size * world, seed)
        self.lo, self.hi = rank * batch_size, (rank + 1) * batch_size

    def next(self):
        x, y = self.inner.next()
        return x[self.lo:self.hi], (y[self.lo:self.hi] if y is not None else None)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, s):
        self.inner.load_state_dict(s)


class Dist:
    """World of one process: every method is a no-op (the default, bit-identical path)."""

    enabled, rank, world_size, local_rank = False, 0, 1, 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        return device

    def stream(self, data, batch_size: int, seed: int):
        return data.stream(batch_size, seed)

    def start(self, nets, seed: int) -> None: ...
    def sync_grads(self, opt) -> None: ...
    def sync_buffers(self, nets) -> None: ...
    def mean(self, t: torch.Tensor) -> torch.Tensor: return t
    def gather_rng(self): return None
    def load_rng(self, rng: dict, seed: int, step: int) -> None: ...
    def agree(self, flag: bool) -> bool: return flag
    def agree_flags(self, stop: bool, changed: bool, interrupted: bool): return stop, changed, interrupted
    def broadcast_object(self, obj): return obj
    def finish(self, trainer) -> None: ...


class TorchDist(Dist):
    enabled = True

    def __init__(self):
        self.rank, self.world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.backend, self._owns_group = None, False

    def device(self, device: torch.device) -> torch.device:
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self._owns_group = not dist.is_initialized()  # a group the caller made stays theirs
        if self._owns_group:
            # torch._dynamo (imported lazily by the first optimiser) keeps references to a
            # process group that exists when it loads: destroy_process_group then leaves gloo's
            # threads running into interpreter exit, where they abort the rank now and then
            # ("terminate called without an active exception"). Loaded first, it holds none.
            importlib.import_module("torch._dynamo")
            dist.init_process_group(self.backend)  # MASTER_ADDR/PORT, RANK... from torchrun
        self._dev = device
        return device

    def stream(self, data, batch_size: int, seed: int):
        return ShardedStream(data, batch_size, seed, self.rank, self.world_size)

    def start(self, nets, seed: int) -> None:
        for net in nets.values():
            for t in [*net.parameters(), *net.buffers()]:
                dist.broadcast(t.data, 0)
        torch.manual_seed(seed * 1_000_003 + 7 + self.rank)  # distinct noise per rank

    def sync_grads(self, opt) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world_size
        for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(avg)

    def sync_buffers(self, nets) -> None:
        bufs = [b for n in nets.values() for b in n.buffers() if b.is_floating_point()]
        if bufs:
            flat = _flatten_dense_tensors(bufs)
            dist.broadcast(flat, 0)
            for b, v in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
                b.copy_(v)

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t / self.world_size

    def gather_rng(self):
        states = [None] * self.world_size
        dist.all_gather_object(states, torch.get_rng_state())
        return states

    def load_rng(self, rng: dict, seed: int, step: int) -> None:
        ranks = rng.get("ranks")
        if ranks is not None and len(ranks) == self.world_size:
            torch.set_rng_state(ranks[self.rank])
        else:  # another world size (or a single-process checkpoint): fresh per-rank noise
            torch.manual_seed(seed * 1_000_003 + 7 + self.rank + 7919 * step)

    def agree(self, flag: bool) -> bool:
        t = torch.tensor([int(flag)], device=self._dev)
        dist.broadcast(t, 0)
        return bool(t.item())

    def agree_flags(self, stop: bool, changed: bool, interrupted: bool):
        """Rank 0's callback decisions (stop, state changed) and any rank's Ctrl-C, on every rank."""
        t = torch.tensor([int(stop and self.is_main), int(changed and self.is_main), int(interrupted)],
                         device=self._dev)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in t.tolist())

    def broadcast_object(self, obj):
        """Rank 0's `obj` (e.g. a rolled-back training state) on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def finish(self, trainer) -> None:
        """Record every rank's weight hash in RUN/distributed.json (proof they stayed equal)."""
        hashes = [None] * self.world_size
        dist.all_gather_object(hashes, weights_hash(trainer.family.nets))
        if self.is_main:
            doc = {"world_size": self.world_size, "backend": self.backend, "step": trainer.step,
                   "weights_sha256": hashes, "in_sync": len(set(hashes)) == 1}
            atomic_write_text(trainer.run.path / "distributed.json", json.dumps(doc, indent=2))
        dist.barrier()
        if self._owns_group:
            dist.destroy_process_group()


def weights_hash(nets: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(nets):
        for k, v in sorted(nets[name].state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a process on its own (before any process group exists)."""
    return int(os.environ.get("WORLD_SIZE", "1")) <= 1 or int(os.environ.get("RANK", "0")) == 0


def from_env() -> Dist:
    """TorchDist when launched by torchrun with WORLD_SIZE > 1, else the one-process Dist."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if "RANK" not in os.environ:
        raise GanforgeError("WORLD_SIZE is set but RANK is not; launch with "
                            "`torchrun --nproc-per-node N -m ganforge train ...`")
    return TorchDist()
