"""The one training loop. It drives any `Family`: per step, each phase in order, `repeats`
times: zero grads, loss, backward, step. Then EMA, logging, previews and checkpoints.

Hot-loop rule: no host-device sync per step. Stats stay tensors and are summed on device;
they are read (`.item()`) only every `log_every` steps.
"""
from __future__ import annotations

import copy
import math
import sys
import time

import torch
from tqdm import tqdm

from ..io.checkpoint import load_state, save_state
from ..io.device import pick_device
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from . import perf
from .distributed import from_env as dist_from_env
from .ema import EMA
from .precision import Precision


class StopTraining(Exception):
    """Raised by a callback to end training cleanly (a checkpoint is still written)."""


class Trainer:
    def __init__(self, family, data, cfg, run: RunDir, callbacks=(), progress: bool = True):
        self.family, self.data, self.cfg, self.run = family, data, cfg, run
        self.callbacks, self.progress = list(callbacks), progress
        self.dist = dist_from_env()  # torchrun world (train/distributed.py); no-op alone
        self.device = self.dist.device(pick_device(cfg.device))
        family.to(self.device)
        self.threads = perf.set_threads(cfg, self.device, self.dist.world_size)
        if cfg.channels_last or (cfg.channels_last is None and family.fast_path):
            perf.channels_last(family)
        self.dist.start(family.nets, cfg.seed)
        self.stream = self.dist.stream(data, cfg.batch_size, cfg.seed)
        self.optimizers = family.make_optimizers()
        perf.fuse_adam(self.optimizers)
        self.precision = Precision(cfg.precision, self.device, family.nets, cfg,
                                   keys=self.optimizers if cfg.precision == "fp16" else (),
                                   fast_path=family.fast_path)
        self.schedulers = {}
        if cfg.lr_decay:
            total = cfg.steps
            self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, lambda t: max(0.0, 1 - t / total))
                               for k, o in self.optimizers.items()}
        self.ema = None
        if family.ema:
            self.start_ema(cfg.ema_decay)
        if cfg.compile:
            perf.compile_nets(family, cfg)
        self.step = 0
        self.last_record: dict = {}

    def start_ema(self, decay: float) -> None:
        """Keep EMA copies of the family's `ema` nets (its generator if it names none); also
        called mid-run by the mode-collapse fix. Records the decay in the config it saves."""
        self.family.ema = self.family.ema or (self.family.generator_name,)
        self.cfg.ema_decay = decay
        self.ema = EMA({k: self.family.nets[k] for k in self.family.ema}, decay)

    # ---- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if getattr(self, "_rng_ranks", None):
            rng["ranks"] = self._rng_ranks
        return {"step": self.step, "config": self.cfg.to_dict(), "family": self.family.name,
                "data": self.data.meta(), "specs": self.family.specs,
                "nets": {k: n.state_dict() for k, n in self.family.nets.items()},
                "ema": {k: n.state_dict() for k, n in self.ema.copies.items()} if self.ema else {},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "stream": self.stream.state_dict(), "rng": rng,
                **({"scalers": self.precision.state_dict()} if self.precision.state_dict() else {})}

    def load_state_dict(self, s: dict) -> None:
        for k, n in self.family.nets.items():
            n.load_state_dict(s["nets"][k])
        if self.ema:  # an EMA started by a fix after this state was saved restarts from G
            for k, n in self.ema.copies.items():
                n.load_state_dict(s["ema"].get(k, s["nets"][k]))
        for k, o in self.optimizers.items():
            o.load_state_dict(s["optimizers"][k])
        for k, sch in self.schedulers.items():
            sch.load_state_dict(s["schedulers"][k])
        self.stream.load_state_dict(s["stream"])
        self.precision.load_state_dict(s.get("scalers", {}))
        torch.set_rng_state(s["rng"]["torch"])
        if self.dist.enabled:
            self.dist.load_rng(s["rng"], self.cfg.seed, int(s["step"]))
        if "cuda" in s["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)
        self.step = int(s["step"])

    def resume(self) -> None:
        self.load_state_dict(load_state(self.run.checkpoint_path))
        perf.match_layouts(self.optimizers)
        if self.dist.is_main:
            self.run.truncate_log(self.step)

    # ---- sampling view -----------------------------------------------------------------
    def generator(self):
        """The sampling net (EMA copy if kept, else a copy of the live net, so training state
        is never touched) with BN statistics refreshed, as a Generator."""
        if getattr(self, "_view", (None, None))[0] == self.step:  # preview + checkpoint share it
            return self._view[1]
        name = self.family.generator_name
        if self.ema and name in self.ema.copies:
            net = self.ema.copies[name]
        else:
            net = copy.deepcopy(self.family.nets[name])
        self._view = (self.step, self.family.sampling_view(net, self.data, self.device))
        return self._view[1]

    def checkpoint(self) -> None:
        self._rng_ranks = self.dist.gather_rng()  # collective: every rank takes part
        if not self.dist.is_main:
            return
        if not self.weights_finite():  # one-line error, not save_state's traceback
            raise GanforgeError(f"training diverged by step {self.step} (non-finite weights); the last "
                                f"finite checkpoint is kept; lower --lr or use --on-problem fix")
        gen = self.generator()
        save_state(self.run.checkpoint_path, self.state_dict())
        gen.save(self.run.path)

    def preview(self) -> None:
        if not self.dist.is_main:
            return
        png = self.family.preview_png(self)
        if png is None:
            return
        self.run.samples_dir.mkdir(parents=True, exist_ok=True)
        (self.run.samples_dir / f"step_{self.step:07d}.png").write_bytes(png)

    # ---- the loop ----------------------------------------------------------------------
    def _one_step(self, sums: dict) -> None:
        nets, ctx, batch = self.family.nets, {"step": self.step}, None  # step: for staged losses
        log_step = (self.step + 1) % self.cfg.log_every == 0 or self.step + 1 == self.cfg.steps
        for phase in self.family.phases:
            for name, net in nets.items():
                net.requires_grad_(name in phase.trains or name in phase.keeps_graph)
            opt = self.optimizers[phase.name]
            for _ in range(phase.repeats):
                if phase.fresh_batch or batch is None:
                    x, y = self.stream.next()
                    batch = (x.to(self.device, non_blocking=True),
                             y.to(self.device, non_blocking=True) if y is not None else None)
                opt.zero_grad(set_to_none=True)
                with self.precision.autocast():
                    loss, stats = phase.loss(batch, ctx)
                self.precision.backward(loss, phase.name)
                self.dist.sync_grads(opt)
                if log_step:  # grad norm of this phase's params (health monitor), no sync
                    grads = [p.grad.detach().norm() for n in phase.trains
                             for p in nets[n].parameters() if p.grad is not None]
                    if grads:
                        stats = {**stats, f"gnorm_{phase.name}": torch.stack(grads).norm()}
                self.precision.step(opt, phase.name)
                for k, v in stats.items():  # (sum tensor, count): averaged at log time
                    total, n = sums.get(k, (0, 0))
                    sums[k] = (total + v.detach().float(), n + 1)
        for sch in self.schedulers.values():
            sch.step()
        self.dist.sync_buffers(nets)
        if self.ema:
            self.ema.update(nets, self.step)

    def fit(self) -> dict:
        cfg, t0 = self.cfg, time.time()
        for net in self.family.nets.values():
            net.train()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress or not self.dist.is_main, dynamic_ncols=True,
                   file=sys.stderr, desc=f"{self.family.name} {self.data.name} {self.precision.name}", mininterval=0.5)
        sums, counts, since = {}, 0, time.time()
        try:
            while self.step < cfg.steps:
                self._one_step(sums)
                counts += 1
                self.step += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self.last_record = rec = self._log(sums, counts, time.time() - since)
                    sums, counts, since = {}, 0, time.time()
                    try:
                        self._callbacks(rec)
                    finally:
                        if self.dist.is_main:
                            self.run.log(rec)
                    bar.set_postfix_str(self._postfix(rec), refresh=False)
                    if self.step == rec["step"]:  # not rolled back by a callback
                        self._check_finite(rec)
                if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
                    self.preview()
                if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                    self.checkpoint()
                bar.update(self.step - bar.n)
        except StopTraining:
            if self.weights_finite():  # else the last (finite) checkpoint on disk is kept
                self.checkpoint()
        except KeyboardInterrupt:
            bar.close()
            self.checkpoint()
            raise
        finally:
            bar.close()
        self.dist.finish(self)
        self.last_record["wall_s"] = round(time.time() - t0, 2)
        return self.last_record

    def _log(self, sums: dict, steps: int, seconds: float) -> dict:
        rec = {"step": self.step}
        if sums:  # one sync for all stats
            values = self.dist.mean(torch.stack([t for t, _ in sums.values()])).cpu().tolist()
            rec.update({k: v / n for (k, (_, n)), v in zip(sums.items(), values)})
        rec["sec_per_step"] = round(seconds / max(steps, 1), 5)
        for k, o in self.optimizers.items():
            rec[f"lr_{k}"] = o.param_groups[0]["lr"]
        return rec  # written by fit() after the callbacks (the health monitor adds its signals)

    def _callbacks(self, rec: dict) -> None:
        """Callbacks run on rank 0 only; a StopTraining there stops every rank at this step."""
        stop = False
        if self.dist.is_main:
            try:
                for cb in self.callbacks:  # may add rec["health"]; may roll self.step back
                    cb(self, rec)
            except StopTraining:
                stop = True
        if self.dist.agree(stop):
            raise StopTraining()

    def weights_finite(self) -> bool:
        return all(torch.isfinite(p).all() for n in self.family.nets.values() for p in n.parameters())

    def _check_finite(self, rec: dict) -> None:
        bad = [k for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise GanforgeError(f"training diverged by step {self.step} ({bad[0]} is not finite); "
                                f"lower --lr or try --loss hinge / --spectral-norm, then retrain")

    def _postfix(self, rec: dict) -> str:
        parts = [f"{k.replace('_loss', '')} {rec[k]:.3f}" for k in rec if k.endswith("_loss")]
        parts += self.family.progress_parts(rec)
        if "health" in rec:  # set by the health monitor callback
            parts.append(rec["health"] + (f": {rec['health_note']}" if rec.get("health_note") else ""))
        return "  ".join(parts)
