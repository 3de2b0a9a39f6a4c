"""`ganforge sweep`: an Optuna search over a family's options, each trial a normal run folder.

TPE proposes the options (space.py); the first trial is always the data's defaults. Every trial
trains with the training-time evaluation on (`--eval-every`) and `--on-problem stop`, so:
- a trial the health monitor marks as a problem stops there and is pruned (the finding is its note);
- `TrialReporter` follows the run's log.jsonl and reports each evaluation to Optuna; a trial whose
  metric falls behind the median of the completed trials at the same step is stopped and pruned
  (MedianPruner, after a warm-up: see `pruning`); one still running when the budget is spent is
  stopped and pruned too.
A trial's value is its metric at the last step. The study lives in SWEEP_DIR/study.db (SQLite:
numbers and JSON, no pickle) next to sweep.json (what is searched), so `--resume` continues it.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from ..api import train
from ..data import load_dataset
from ..data.registry import builtin
from ..engine.loop import StopTraining
from ..families.resolve import choose_family, resolve
from ..io.checkpoint import atomic_write_text
from ..io.errors import GanforgeError
from ..io.lock import RunLock
from ..metrics.callback import check_options
from ..metrics.evaluate import METRICS
from . import space as spaces

SPEC, STUDY_DB = "sweep.json", "study.db"
SWEEP_METRICS = ("fid", "kid", "precision", "recall", "coverage", "modes")  # training-time, one direction
INSTALL = "pip install 'ganforge[sweep]'"


def _optuna():
    try:
        import optuna
    except ImportError:
        raise GanforgeError(f"ganforge sweep needs optuna: {INSTALL}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class TrialReporter:
    """Trainer callback: reports the run's new `eval_<metric>` records to the trial and stops
    the run when Optuna prunes it or the sweep's time is up. It reads log.jsonl (the evaluation
    callback writes there), so it sees an evaluation at the log step after it. The last step's
    evaluation is never pruned: the run is done, and its value counts."""

    def __init__(self, trial, metric: str, deadline: float, steps: int):
        self.trial, self.key, self.deadline, self.steps = trial, f"eval_{metric}", deadline, steps
        self.offset, self.pruned = 0, None

    def __call__(self, trainer, record: dict) -> None:
        for rec in self._new_records(trainer.run.log_path):
            if isinstance(rec.get(self.key), (int, float)):
                self.trial.report(float(rec[self.key]), rec["step"])
                if rec["step"] < self.steps and self.trial.should_prune():
                    self._stop(trainer, f"{self.key[5:]} {rec[self.key]:.4g} at step {rec['step']} "
                                        f"behind the median of the completed trials")
        if time.monotonic() > self.deadline:
            self._stop(trainer, "the sweep's time budget ran out")

    def _stop(self, trainer, why: str) -> None:
        self.pruned = why
        trainer.run.log({"step": trainer.step, "sweep": "pruned", "reason": why})
        raise StopTraining(why)

    def _new_records(self, path: Path) -> list[dict]:
        try:
            with open(path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next call
        self.offset += end
        out = []
        for line in chunk[:end].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def pruning(steps: int, trials: int) -> dict:
    """The median rule's warm-up (Optuna MedianPruner's arguments). A GAN's metric early in a run
    says little about where the run ends (curves cross, and the first evaluations are noisy), and
    a median of one or two trials is mostly luck: so no trial is pruned by its metric before a
    third of its steps, nor before max(2, trials // 4) trials have completed. Without it the
    first evaluation pruned 10 of the 12 trials of benchmarks/sweep.py."""
    return {"n_startup_trials": max(2, trials // 4), "n_warmup_steps": max(1, steps // 3)}


def _setup(data: str, model: str | None, metric: str, options: dict) -> tuple:
    """The family, data kind and resolved defaults (for `options`: the fixed ones, steps and
    evaluation); refuses, before any trial, what a sweep cannot search."""
    entry = builtin(data)
    if entry is not None and entry.kind not in spaces.SPACES:
        _refuse_kind(entry.kind)
    family = choose_family(model, None, data, entry.kind if entry is not None else None)
    if family is not None:
        family.Options.refuse_unknown({**options, "model": family.name}, family.name)
    dataset = load_dataset(data, options.get("image_size"))
    if family is None:
        family = choose_family(None, None, data, dataset.kind, labelled=dataset.num_classes >= 2)
        family.Options.refuse_unknown({**options, "model": family.name}, family.name)
    if dataset.kind not in spaces.SPACES:
        _refuse_kind(dataset.kind)
    if metric == "modes" and dataset.kind != "points":
        raise GanforgeError("--metric modes counts the modes of the 2D mixtures; use --metric fid for images")
    cfg = resolve(family, {**options, "data": data, "model": family.name}, dataset.meta(), data)
    check_options(cfg)
    if family(cfg, dataset.meta()).sampler_info().get("input") != "noise":
        raise GanforgeError(f"--model {family.name} is not a noise-to-data GAN; ganforge sweep searches "
                            f"vanilla, dcgan, cgan, lapgan or stylegan runs")
    return family, dataset.kind, cfg


def _refuse_kind(kind: str):
    raise GanforgeError(f"ganforge sweep searches GANs of images or 2D points (its metrics are the "
                        f"training-time FID etc.), not {kind} data")


def sweep(data: str, trials: int = 20, metric: str = "fid", budget_minutes: float = 60.0,
          model: str | None = None, out: str | Path | None = None, resume: bool = False,
          steps: int | None = None, eval_every: int | None = None, eval_n: int = 500, seed: int = 0,
          options: dict | None = None, first_trials=(), pruner: dict | None = None, say=print) -> dict:
    """Search `trials` option sets for `data` by `metric`, within `budget_minutes` (this
    session); returns the sweep summary (also in SWEEP_DIR/sweep.json and report.md).

    `options` are fixed train options for every trial (e.g. threads, batch_size; one in the
    space is then not searched); `first_trials` are option dicts tried right after the defaults
    (e.g. a known-bad learning rate in a test); `pruner` overrides the warm-up of `pruning()`
    (`n_startup_trials`, `n_warmup_steps`), kept in sweep.json for --resume.
    """
    optuna = _optuna()
    if not isinstance(trials, int) or trials < 1:
        raise GanforgeError(f"--trials must be a whole number of at least 1, got {trials}")
    if not budget_minutes or budget_minutes <= 0:
        raise GanforgeError(f"--budget-minutes must be more than 0, got {budget_minutes}")
    if metric not in SWEEP_METRICS:
        raise GanforgeError(f"--metric {metric} cannot be swept; choose one of {', '.join(SWEEP_METRICS)}")
    root = Path(out) if out is not None else Path("sweeps") / Path(str(data)).name.replace(".", "-")
    spec = _spec_for(root, resume, dict(data=str(data), model=model, metric=metric, steps=steps,
                                         eval_every=eval_every, eval_n=eval_n, seed=seed, options=options or {}))
    fixed = {k: spec[k] for k in ("steps", "eval_every", "eval_n") if spec.get(k) is not None}
    family, kind, cfg = _setup(spec["data"], spec["model"], metric, {**spec["options"], **fixed})
    if not resume:
        steps = cfg.steps
        spec.update(model=family.name, kind=kind, steps=steps, eval_every=spec["eval_every"] or max(1, steps // 5),
                    direction="minimize" if METRICS[metric][1].startswith("lower") else "maximize",
                    space=spaces.space_for(family, kind, vars(cfg), fixed=spec["options"]))
        spec["defaults"] = spaces.fixed_params(spec["space"], vars(cfg))
        spec["pruner"] = {**pruning(steps, trials), **(pruner or {})}
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / SPEC, json.dumps(spec, indent=2))
    spec.setdefault("pruner", pruning(spec["steps"], trials))  # a sweep.json from before the warm-up
    with RunLock(root):  # one sweep process per folder
        return _search(root, spec, trials, budget_minutes, resume, first_trials, optuna, say)


def _search(root: Path, spec: dict, trials: int, budget_minutes: float, resume: bool, first_trials,
            optuna, say) -> dict:
    from .report import summarise, write_report
    storage = optuna.storages.RDBStorage(f"sqlite:///{(root / STUDY_DB).resolve()}")
    earlier = len(storage.get_all_trials(storage.get_study_id_from_name("ganforge"))) if resume else 0
    # a resumed session's sampler is seeded past the first one's, so it does not repeat its draws
    sampler = optuna.samplers.TPESampler(seed=spec["seed"] + earlier, n_startup_trials=max(2, trials // 4))
    study = optuna.create_study(study_name="ganforge", storage=storage, load_if_exists=resume,
                                direction=spec["direction"], sampler=sampler,
                                pruner=optuna.pruners.MedianPruner(**spec["pruner"]))
    if not resume:
        for params in [spec["defaults"], *(spaces.fixed_params(spec["space"], t) for t in first_trials)]:
            study.enqueue_trial(params)
    else:
        _requeue_interrupted(study, storage, optuna)
    todo = trials - _done(study, optuna)
    say(f"sweep of {spec['model']} on {spec['data']} by {spec['metric']} ({spec['direction']}): "
        f"{max(todo, 0)} trial(s) of {spec['steps']} steps, at most {budget_minutes:g} min -> {root}")
    say(f"space: {spaces.describe(spec['space'])}")
    deadline = time.monotonic() + 60 * budget_minutes
    try:
        if todo > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a first trial's value outside the space is on purpose
                study.optimize(lambda trial: _trial(trial, spec, root, deadline, optuna, say),
                               n_trials=todo, timeout=60 * budget_minutes)
    finally:
        summary = summarise(study, spec, optuna, root)
        write_report(root, summary)
    return summary


def _trial(trial, spec: dict, root: Path, deadline: float, optuna, say) -> float:
    params = spaces.suggest(trial, spec["space"])
    run = root / f"trial_{trial.number:03d}"
    trial.set_user_attr("run", run.name)
    reporter = TrialReporter(trial, spec["metric"], deadline, spec["steps"])
    fixed = {**spec["options"], "steps": spec["steps"], "eval_every": spec["eval_every"],
             "eval_n": spec["eval_n"], "seed": spec["seed"]}
    t0 = time.time()
    try:
        train(spec["data"], model=spec["model"], out=run, progress=False, callbacks=[reporter],
              on_problem="stop", **{**fixed, **params})
    except GanforgeError as e:  # e.g. diverged past the monitor: the run cannot go on
        return _pruned(trial, f"failed: {e}", optuna, say)
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)  # --resume runs these options again
        raise
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()]
    trial.set_user_attr("seconds", round(time.time() - t0, 1))
    stop = next((r for r in log if r.get("action") == "stop"), None)
    if stop is not None:
        return _pruned(trial, f"health: {stop['finding']} at step {stop['step']}", optuna, say)
    if reporter.pruned:
        return _pruned(trial, reporter.pruned, optuna, say)
    evals = [r for r in log if isinstance(r.get(f"eval_{spec['metric']}"), (int, float))]
    if not evals:
        return _pruned(trial, "no evaluation was logged", optuna, say)
    last = evals[-1]
    trial.set_user_attr("step", last["step"])
    value = float(last[f"eval_{spec['metric']}"])
    say(f"trial {trial.number}: {spec['metric']} {value:.4g} at step {last['step']} ({run.name})")
    return value


def _pruned(trial, why: str, optuna, say):
    trial.set_user_attr("note", why)
    say(f"trial {trial.number}: pruned ({why})")
    raise optuna.TrialPruned(why)


def _done(study, optuna) -> int:
    """Trials that count: complete, pruned, or failed other than by an interruption."""
    S = optuna.trial.TrialState
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (S.COMPLETE, S.PRUNED) or (t.state == S.FAIL and not t.user_attrs.get("interrupted")))


def _requeue_interrupted(study, storage, optuna) -> None:
    """--resume: a trial cut off by Ctrl-C or a kill (left RUNNING) is tried again, once, with
    the same options in a new run folder."""
    S = optuna.trial.TrialState
    seen, study_id = set(study.user_attrs.get("requeued", [])), storage.get_study_id_from_name("ganforge")
    for t in study.get_trials(deepcopy=False):
        if t.state == S.RUNNING:  # its process is gone (one sweep per folder holds its lock)
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            storage.set_trial_user_attr(trial_id, "interrupted", True)
            storage.set_trial_state_values(trial_id, S.FAIL)
        if t.number not in seen and (t.state == S.RUNNING or t.user_attrs.get("interrupted")):
            study.enqueue_trial(t.params)
            seen.add(t.number)
    study.set_user_attr("requeued", sorted(seen))


def _spec_for(root: Path, resume: bool, given: dict) -> dict:
    """A new sweep needs a new or empty folder; --resume needs one holding a sweep of the same
    data and metric (the saved spec wins for everything else it fixed)."""
    if resume:
        if not (root / SPEC).is_file():
            raise GanforgeError(f"nothing to resume in {root} (no {SPEC}); drop --resume to start a sweep there")
        try:
            spec = json.loads((root / SPEC).read_text())
        except ValueError as e:
            raise GanforgeError(f"{root / SPEC} is damaged ({e}); start a new sweep in another --out") from None
        for k in ("data", "metric"):
            if given[k] != spec.get(k):
                raise GanforgeError(f"cannot resume {root}: it sweeps {k} {spec.get(k)}, not {given[k]}; "
                                    f"use another --out")
        if given["model"] not in (None, spec.get("model")):
            raise GanforgeError(f"cannot resume {root}: it sweeps --model {spec['model']}, not {given['model']}")
        return spec
    if (root / SPEC).exists():
        raise GanforgeError(f"{root} already holds a sweep; pass --resume to continue it or choose another --out")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise GanforgeError(f"--out {root} already holds files and is not a sweep; choose a new or empty folder")
    return given
