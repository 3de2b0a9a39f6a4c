"""The training health monitor: a Trainer callback run at every log step.

It adds cheap signals to the loop's record (diversity of a fixed-noise batch, the 2D mode count,
now and then the near-copy share), runs the detectors, logs new findings to log.jsonl, shows
a status word (healthy / warning / problem) in the progress bar, keeps the last healthy state in
RUN_DIR/healthy.safetensors, and acts on problems by `--on-problem`:
warn (default: log and go on; non-finite numbers still end the run cleanly), stop (restore the
healthy state, end cleanly), fix (restore it and apply a documented change; see remedy.py).
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import torch
from tqdm import tqdm

from ..engine.loop import StopTraining
from ..io.checkpoint import load_state, save_state
from . import remedy
from .detectors import SEVERITY, detect, status
from .probes import Probes

HEALTHY = "healthy.safetensors"
COVERAGE_SD = 5  # ring8: within 0.15 of a mode (modes 0.77 apart); grid25: within 0.75 (2 apart)
PROBE_N = 256          # fixed-noise batch for diversity / mode count
MEM_EVERY = 10         # near-copy check every this many log steps (images, small data only)
MEM_EVERY_TINY = 2     # ... for <= MEM_TINY examples, where memorisation sets in and checks are cheap
MEM_TINY = 2000
MEM_MAX_TRAIN = 20000  # larger training sets are not memorised in a short run; skip the cost
AFTER = 10             # records after a fix at which its "after" numbers are logged


class Tracker:
    """Turns per-record detector output into new-finding events (also used by `doctor`)."""

    def __init__(self):
        self.history: list[dict] = []
        self.active: dict[str, str] = {}

    def update(self, merged: dict):
        self.history.append(merged)
        found = detect(self.history)
        new = [f for f in found if SEVERITY[f.severity] > SEVERITY.get(self.active.get(f.finding), 0)]
        self.active = {f.finding: f.severity for f in found}
        return found, new

    def reset(self):
        self.history, self.active = [], {}


class HealthMonitor:
    def __init__(self, dataset, cfg):
        self.data, self.cfg = dataset, cfg
        self.on_problem = getattr(cfg, "on_problem", "warn")
        self.tracker = Tracker()
        self.calls, self.fixes, self.pending = 0, [], []
        self.healthy_step, self.last_eval_step = None, -1
        self.probe = None

    # ---- signals -----------------------------------------------------------------------
    def _setup(self, trainer) -> None:
        fam = trainer.family
        info = fam.sampler_info()
        g = torch.Generator().manual_seed(777)  # own RNG: training randomness untouched
        # noise in (labels optional), or noise and a caption embedding in (text2img)
        text = info.get("input") == "text" and getattr(self.data, "emb", None) is not None
        self.noise = (info.get("input") == "noise" or text) and hasattr(self.data, "x")
        if self.noise:
            nc = info.get("num_classes") or 0
            z = torch.randn(PROBE_N, info["z_dim"], generator=g)
            if text:  # the captions of random (image, caption) pairs
                y = self.data.emb[self.data.pair_caption[torch.randint(len(self.data.pair_caption), (PROBE_N,),
                                                                        generator=g)]]
            else:
                y = torch.randint(nc, (PROBE_N,), generator=g) if nc else None
            self.probe = (z.to(trainer.device), y.to(trainer.device) if y is not None else None)
            real = self.data.x[torch.randperm(len(self.data.x), generator=g)[:PROBE_N]]
            self.real_div = float(torch.pdist(real.reshape(len(real), -1).float()).mean())
        kind, info = getattr(self.data, "kind", None), getattr(self.data, "info", {}) or {}
        self.means = info.get("means") if kind == "points" else None
        self.mem = self.noise and kind == "images" and len(self.data.x) <= MEM_MAX_TRAIN
        # within-class diversity and recall/coverage probes (probes.py)
        self.probes = (Probes.create(self.data, fam.sampler_info(), trainer.device, getattr(self.cfg, "steps", 0) or 0)
                       if self.noise else None)

    def _signals(self, trainer) -> dict:
        if not self.noise:
            return {}
        G = trainer.family.nets[trainer.family.generator_name]
        was = G.training
        G.eval()  # live net, no grad, BN running stats: training state is not changed
        try:
            with torch.no_grad():
                x = G(*self.probe).float().cpu()
        finally:
            G.train(was)
        if not torch.isfinite(x).all():
            return {"div": float("nan")}
        flat = x.reshape(len(x), -1)
        out = {"div": round(float(torch.pdist(flat).mean()) / max(self.real_div, 1e-12), 4)}
        if self.means is not None:
            from ..metrics.modes import mode_stats
            # Coverage, not precision: early samples are not yet within 3 sd, so a mode counts
            # when a sample lies within 3·COVERAGE_SD sd of it (still far from the next mode).
            ms = mode_stats(flat.numpy(), np.array(self.means), COVERAGE_SD * self.data.info["sd"])
            out.update(modes=ms["modes"], of_modes=ms["of_modes"])
            if math.isfinite(ms["reverse_kl"]):  # balance across the modes it reaches
                out["mode_rkl"] = round(ms["reverse_kl"], 4)
        if self.probes is not None:
            ema = trainer.ema.copies.get(trainer.family.generator_name) if trainer.ema else None
            out.update(self.probes.signals(G, self.calls, ema))
        every = MEM_EVERY_TINY if len(self.data.x) <= MEM_TINY else MEM_EVERY
        if self.mem and self.calls % every == 0:
            from ..metrics.memorisation import memorisation
            out["near_copy"] = round(memorisation(self.data.x, x)["near_copy_share"], 4)
        return out

    def _latest_eval(self, trainer) -> dict:
        """eval_* values logged by the evaluation callback since the last look (log tail)."""
        if not self.cfg.eval_every or not trainer.run.log_path.exists():
            return {}
        with open(trainer.run.log_path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            lines = f.read().decode(errors="ignore").splitlines()[1:]
        for line in reversed(lines):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "eval_fid" in r or "eval_modes" in r:
                if r["step"] <= self.last_eval_step:
                    return {}
                self.last_eval_step = r["step"]
                return {k: v for k, v in r.items() if k.startswith("eval_") and isinstance(v, (int, float))}
        return {}

    # ---- the callback ------------------------------------------------------------------
    def __call__(self, trainer, record: dict) -> None:
        if self.probe is None and self.calls == 0:
            self._setup(trainer)
        self.calls += 1
        sig = self._signals(trainer)
        merged = {**record, **sig, **self._latest_eval(trainer)}
        found, new = self.tracker.update(merged)
        state = status(found)
        record["health"] = state
        if found:
            record["health_note"] = max(found, key=lambda f: SEVERITY[f.severity]).finding
        record.update(sig)  # the loop writes `record` to log.jsonl after the callbacks
        for f in new:
            trainer.run.log(f.to_record())
            if trainer.progress:
                tqdm.write(f"[{f.severity}] step {f.step}: {f.finding} {f.evidence}\n  advice: {f.advice}")
        self._after_fix(trainer, merged, state)
        if state == "healthy" and self._due_healthy_save(trainer) and trainer.weights_finite():
            self._save_healthy(trainer)
        problems = [f for f in found if f.severity == "problem"]
        if problems:
            self._act(trainer, root_cause(problems, found), merged)

    def start(self, trainer) -> None:
        """Before the first step (called by api.train): the starting state is the first healthy one."""
        dist = getattr(trainer, "dist", None)  # under torchrun only rank 0 runs callbacks
        if (dist is None or dist.is_main) and trainer.run.path.exists() and trainer.weights_finite():
            self._save_healthy(trainer)

    def _save_healthy(self, trainer) -> None:
        save_state(trainer.run.path / HEALTHY, trainer.state_dict())
        self.healthy_step = trainer.step
        self.healthy_scale = dict(getattr(trainer, "lr_scale", {}))  # lr changes already in that state

    def _due_healthy_save(self, trainer) -> bool:
        return self.healthy_step is None or trainer.step - self.healthy_step >= self.cfg.ckpt_every

    def _restore_healthy(self, trainer) -> bool:
        path = trainer.run.path / HEALTHY
        if self.healthy_step is None or not path.exists():
            return False
        trainer.load_state_dict(load_state(path))
        saved = getattr(self, "healthy_scale", {})
        for phase, scale in getattr(trainer, "lr_scale", {}).items():  # keep earlier fixes' lr changes
            if scale != saved.get(phase, 1.0):
                remedy.scale_lr(trainer, phase, scale / saved.get(phase, 1.0), record=False)
        return True

    def _act(self, trainer, f, merged: dict) -> None:
        mode = self.on_problem
        if mode == "warn" and f.finding != "nan":  # non-finite weights cannot train on
            return
        fixable = mode == "fix" and len(self.fixes) < remedy.MAX_ATTEMPTS and f.finding in remedy.REMEDIES
        if fixable and self._restore_healthy(trainer):
            change = remedy.apply(trainer, f.finding)
            self.fixes.append(f.finding)
            rec = {"step": f.step, "action": "fix", "finding": f.finding, "attempt": len(self.fixes),
                   "rolled_back_to": trainer.step, "change": change, "before": remedy.snapshot(merged)}
            trainer.run.log(rec)
            if trainer.progress:
                tqdm.write(f"[fix {len(self.fixes)}/{remedy.MAX_ATTEMPTS}] {f.finding}: rolled back to step "
                           f"{trainer.step}; {change}")
            self.pending.append((self.tracker_calls_after(), rec))
            self.tracker.reset()
            if change.startswith("stop"):
                raise StopTraining(f.finding)
            return
        restored = self._restore_healthy(trainer)
        trainer.run.log({"step": f.step, "action": "stop", "finding": f.finding,
                         "kept_step": trainer.step if restored else None,
                         "reason": _stop_reason(mode, fixable, restored, len(self.fixes))})
        raise StopTraining(f.finding)

    def tracker_calls_after(self) -> int:
        return self.calls + AFTER

    def _after_fix(self, trainer, merged: dict, state: str) -> None:
        """Log before/after numbers AFTER records past each fix."""
        due = [p for p in self.pending if p[0] <= self.calls]
        for p in due:
            self.pending.remove(p)
            rec = p[1]
            trainer.run.log({"step": trainer.step, "fix_result": rec["attempt"], "finding": rec["finding"],
                             "change": rec["change"], "before": rec["before"],
                             "after": remedy.snapshot(merged), "status": state})


def root_cause(problems: list, found: list):
    """The finding to act on: NaN first; a mode collapse while D is overpowering (even at
    warning level) is treated as the overpowering D, whose remedy removes the cause (measured:
    lr_D = 200x lr_G collapsed ring8 to one mode; three R1 doublings did not help)."""
    nan = [f for f in problems if f.finding == "nan"]
    if nan:
        return nan[0]
    over = [f for f in found if f.finding == "d_overpowering"]
    if over and all(f.finding == "mode_collapse" for f in problems):
        return dataclasses.replace(over[0], severity="problem")
    return problems[0]


def _stop_reason(mode: str, fixable: bool, restored: bool, fixes: int) -> str:
    if mode != "fix":
        return f"--on-problem {mode}" if mode == "stop" else "non-finite numbers: training cannot go on"
    if fixes >= remedy.MAX_ATTEMPTS:
        return f"fix attempts used up ({fixes})"
    if not fixable:
        return "no automatic fix for this finding"
    return "no healthy checkpoint to roll back to"
