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
from pathlib import Path

import torch
from tqdm import tqdm

from ..io.checkpoint import atomic_write, load_state, save_state
from ..io.device import pick_device
from ..io.errors import GanforgeError
from ..io.rundir import RunDir
from . import perf
from .distributed import from_env as dist_from_env
from .ema import EMA
from .interrupt import Interrupted, StopOnSigint
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
        if cfg.lr_decay:  # linear to 0 at cfg.steps (read each step: see replan_lr)
            self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, lambda t: max(0.0, 1 - t / self.cfg.steps))
                               for k, o in self.optimizers.items()}
        self.ema = None
        if family.ema:
            self.start_ema(cfg.ema_decay)
        if cfg.compile:
            perf.compile_nets(family, cfg)
        self.step = 0
        self.last_record: dict = {}
        self._rng_ranks = self.dist.gather_rng()  # every rank's noise RNG, for states saved on rank 0
        self._state_loaded = False  # set when a callback rolls the state back (broadcast to all ranks)

    def start_ema(self, decay: float) -> None:
        """Keep EMA copies of the family's `ema` nets (its generator if it names none); also
        called mid-run by the mode-collapse fix. Records the decay in the config it saves."""
        self.family.ema = self.family.ema or (self.family.generator_name,)
        self.cfg.ema_decay = decay
        self.ema = EMA({k: self.family.nets[k] for k in self.family.ema}, decay)
        self.family.averaged = self.ema.copies  # a sampler built from several nets takes them all averaged

    # ---- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if self._rng_ranks:
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
            self._rng_ranks = s["rng"].get("ranks")  # re-gathered by every rank before use
        if "cuda" in s["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)
        self.step = int(s["step"])
        self._state_loaded = True

    def resume(self) -> None:
        state = load_state(self.run.checkpoint_path)
        self.load_state_dict(state)
        self._rng_ranks = self.dist.gather_rng()
        perf.match_layouts(self.optimizers)
        self.replan_lr(int(state["config"].get("steps", self.cfg.steps)))
        if self.dist.is_main:
            self.run.truncate_log(self.step)

    def replan_lr(self, saved_steps: int) -> None:
        """--lr-decay and a new --steps at resume: from this step on, the learning rates follow
        the decay planned for the new total (what a run of that length has at this step; the
        steps already trained keep theirs). Not "from the current lr": a finished run's lr is 0."""
        if not self.schedulers or saved_steps == self.cfg.steps:
            return
        parts = []
        for k, sch in self.schedulers.items():
            opt = self.optimizers[k]
            before = opt.param_groups[0]["lr"]
            for g, base, lam in zip(opt.param_groups, sch.base_lrs, sch.lr_lambdas):
                g["lr"] = base * lam(sch.last_epoch)
            sch._last_lr = [g["lr"] for g in opt.param_groups]
            parts.append(f"lr_{k} {before:.3g} -> {opt.param_groups[0]['lr']:.3g}")
        if self.dist.is_main:
            print(f"--steps {saved_steps} -> {self.cfg.steps} with --lr-decay: from step {self.step} the learning "
                  f"rates follow a {self.cfg.steps}-step linear decay to 0 ({', '.join(parts)})",
                  file=sys.stderr, flush=True)

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
        """Every rank calls it (collectives); rank 0 writes."""
        self._rng_ranks = self.dist.gather_rng()
        if not self.finite_everywhere():  # one-line error (on every rank), not save_state's traceback
            raise GanforgeError(f"training diverged by step {self.step} (non-finite weights); the last "
                                f"finite checkpoint is kept; lower --lr or use --on-problem fix")
        if not self.dist.is_main:
            return
        gen = self.generator()
        save_state(self.run.checkpoint_path, self.state_dict())
        gen.save(self.run.path)

    def preview(self) -> None:
        if not self.dist.is_main:
            return
        png = self.family.preview_png(self)
        if png is None:
            return
        atomic_write(self.run.samples_dir / f"step_{self.step:07d}.png", lambda tmp: Path(tmp).write_bytes(png))

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
                # fp16: the all-reduce sums loss-scaled gradients (as DDP does), so every rank
                # unscales the same numbers and agrees on an overflow; norms see true gradients.
                self.dist.sync_grads(opt)
                self.precision.unscale(opt, phase.name)
                if log_step:  # grad norm of this phase's params (health monitor)
                    gnorm = self._grad_norm(phase)
                    if gnorm is not None:
                        stats = {**stats, f"gnorm_{phase.name}": gnorm}
                self.precision.step(opt, phase.name)  # fp16: skipped on overflow, as GradScaler does
                for k, v in stats.items():  # (sum tensor, count): averaged at log time
                    total, n = sums.get(k, (0, 0))
                    sums[k] = (total + v.detach().float(), n + 1)
        for sch in self.schedulers.values():
            sch.step()
        self.dist.sync_buffers(nets)
        if self.ema:
            self.ema.update(nets, self.step)

    def _grad_norm(self, phase):
        """Norm of the phase's gradients (no host sync), or None; under fp16 None also when
        they overflowed (that step is skipped and its loss scale lowered: not a divergence)."""
        grads = [p.grad.detach().norm() for n in phase.trains
                 for p in self.family.nets[n].parameters() if p.grad is not None]
        if not grads:
            return None
        norm = torch.stack(grads).norm()
        if self.precision.scaled(phase.name) and not torch.isfinite(norm):  # fp16 log steps only
            return None
        return norm

    def fit(self) -> dict:
        cfg, t0 = self.cfg, time.time()
        for net in self.family.nets.values():
            net.train()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress or not self.dist.is_main, dynamic_ncols=True,
                   file=sys.stderr, desc=f"{self.family.name} {self.data.name} {self.precision.name}", mininterval=0.5)
        sums, counts, since = {}, 0, time.time()
        try:
            with StopOnSigint(announce=self.dist.is_main) as sigint:
                while self.step < cfg.steps:
                    self._one_step(sums)
                    counts += 1
                    self.step += 1
                    # one process: stop at this step boundary; torchrun: at a log step, agreed
                    stop = sigint.requested and not self.dist.enabled
                    if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                        self.last_record = rec = self._log(sums, counts, time.time() - since)
                        sums, counts, since = {}, 0, time.time()
                        try:
                            stop = self._callbacks(rec, sigint.requested)
                        finally:
                            if self.dist.is_main:
                                self.run.log(rec)
                        bar.set_postfix_str(self._postfix(rec), refresh=False)
                        if self.step == rec["step"]:  # not rolled back by a callback
                            self._check_finite(rec)
                    if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
                        self.preview()
                    if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps or stop:
                        self.checkpoint()
                    bar.update(self.step - bar.n)
                    if stop:
                        raise Interrupted(self.step, self.run.path)
        except StopTraining:
            if self.finite_everywhere():  # else the last (finite) checkpoint on disk is kept
                self.checkpoint()
        except Interrupted:
            self.dist.finish(self)
            raise
        finally:  # a KeyboardInterrupt mid-step (second Ctrl-C) saves nothing: the state is half-updated
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
        rec.update(self.precision.scales())  # fp16: a falling loss scale = skipped overflow steps
        return rec  # written by fit() after the callbacks (the health monitor adds its signals)

    def _callbacks(self, rec: dict, interrupted: bool) -> bool:
        """Callbacks run on rank 0 only. Every rank then takes rank 0's decisions at this same
        step: a state it rolled back to (and options a fix changed) and a StopTraining. Returns
        whether any rank was interrupted (Ctrl-C)."""
        stop, self._state_loaded = False, False
        self._rng_ranks = self.dist.gather_rng()  # current, for a healthy state saved by a callback
        if self.dist.is_main:
            try:
                for cb in self.callbacks:  # may add rec["health"]; may roll the state back
                    cb(self, rec)
            except StopTraining:
                stop = True
        stop, changed, interrupted = self.dist.agree_flags(stop, self._state_loaded, interrupted)
        if changed and self.dist.enabled:
            self._adopt(self.dist.broadcast_object(self._shared_state() if self.dist.is_main else None))
        if stop:
            raise StopTraining()
        return interrupted

    def _shared_state(self) -> dict:
        return {"state": self.state_dict(), "repeats": [p.repeats for p in self.family.phases]}

    def _adopt(self, msg: dict) -> None:
        """Other ranks take rank 0's rolled-back state and changed options; each rank then
        re-gathers the per-rank noise RNG states it restored."""
        if not self.dist.is_main:
            for k, v in msg["state"]["config"].items():  # a fix edits the live config
                setattr(self.cfg, k, tuple(v) if k == "betas" else v)
            for p, r in zip(self.family.phases, msg["repeats"]):
                p.repeats = r
            if msg["state"]["ema"] and self.ema is None:  # a fix started an EMA of G
                self.start_ema(self.cfg.ema_decay)
            self.load_state_dict(msg["state"])
        self._rng_ranks = self.dist.gather_rng()

    def weights_finite(self) -> bool:
        return all(torch.isfinite(p).all() for n in self.family.nets.values() for p in n.parameters())

    def finite_everywhere(self) -> bool:
        """Rank 0's verdict on every rank, so all ranks take the same branch."""
        return self.dist.agree(bool(self.weights_finite()))

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
