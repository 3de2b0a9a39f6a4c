"""Runs started, stopped and resumed from the dashboard (only with `--allow-train`).

Each run is a `python -m ganforge train DATA ... --out RUNS_DIR/NAME` subprocess, so the options
and their validation are the CLI's own: the child parses them and checks them against the family
and the data before it writes anything. The start waits until the child either writes its
config.json (it is training) or exits; a child that exits with an error gives the page its one
`error:` line. Stop = SIGINT: ganforge finishes the step, checkpoints it and exits 130; resume =
`python -m ganforge resume RUN` (the saved options and data). Outputs only inside RUNS_DIR.
"""
from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..io.errors import GanforgeError
from ..io.rundir import CONFIG
from .runs import Refused, RunsRoot

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
# options the form sets itself (or that would read a file the page does not name)
NOT_IN_FORM = {"--out": "the run folder is the form's name", "--resume": "use the run's resume button",
               "--config": "give the options themselves", "--help": "see `ganforge train --help`",
               "-h": "see `ganforge train --help`"}
STOPPED = 130  # the CLI's exit status after Ctrl-C (a checkpoint of the last whole step was saved)


class Job:
    def __init__(self, name: str, path: Path, argv: list[str]):
        self.name, self.path, self.argv, self.stopping = name, path, argv, False
        self.err = tempfile.TemporaryFile()  # the child's stderr; gone with the job, nothing in RUNS_DIR
        # its own session: a Ctrl-C on the dashboard's terminal reaches the run once, from close()
        # (a second SIGINT would make it quit without saving)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                                     start_new_session=True)

    @property
    def state(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "stopping" if self.stopping else "training"
        return {0: "finished", STOPPED: "stopped"}.get(code, "failed")

    def error(self) -> str:
        """The child's `error:` line (the CLI's one line), else its last line of stderr."""
        self.err.seek(0)
        lines = [ln.strip() for ln in self.err.read().decode(errors="replace").splitlines() if ln.strip()]
        said = [ln for ln in lines if ln.startswith("error:")]
        return (said or lines or [f"error: exited with status {self.proc.returncode}"])[-1]

    def describe(self) -> dict:
        state = self.state
        return {"name": self.name, "state": state, "pid": self.proc.pid,
                "error": self.error() if state == "failed" else None}


class Jobs:
    def __init__(self, root: RunsRoot, start_wait: float = 120.0):
        self.root, self.start_wait = root, start_wait
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    # ---- what the form asks ------------------------------------------------------------------
    def new_run_path(self, name: str) -> Path:
        name = (name or "").strip()
        if not NAME.fullmatch(name) or any(p in (".", "..") for p in name.split("/")):
            raise GanforgeError(f"run name {name!r} must be a folder name inside the runs folder "
                                f"(letters, digits, _ . - and /), e.g. ring8-lr2e-4")
        try:
            path = self.root.inside(self.root.root / name)
        except Refused:
            raise GanforgeError(f"run name {name} leads outside the runs folder; choose another") from None
        if (path / CONFIG).exists():
            raise GanforgeError(f"{name} already holds a run; resume it from its page or choose another name")
        return path

    def start(self, data: str, name: str, model: str = "", steps="", options: str = "") -> dict:
        data, model, steps = (data or "").strip(), (model or "").strip(), str(steps or "").strip()
        if not data or data.startswith("-"):
            raise GanforgeError("data is missing: a built-in name (ring8, digits ...), an image folder or a .npz")
        path = self.new_run_path(name)
        try:
            opts = shlex.split(options or "")
        except ValueError as e:
            raise GanforgeError(f"options: {e}; write them as on the command line, e.g. --lr 2e-4 --batch-size 64") from None
        for tok in opts:
            key = tok.split("=", 1)[0]
            if key in NOT_IN_FORM:
                raise GanforgeError(f"{key} is not taken by the form: {NOT_IN_FORM[key]}")
        argv = ["train", data, *(["--model", model] if model else []), *(["--steps", steps] if steps else []),
                *opts, "--out", str(path), "--quiet"]
        return self._launch(name.strip(), path, argv)

    def resume(self, name: str, steps="") -> dict:
        path = self.root.run_dir(name)
        steps = str(steps or "").strip()
        return self._launch(name, path, ["resume", str(path), *(["--steps", steps] if steps else []), "--quiet"])

    def stop(self, name: str, wait: float = 120.0) -> dict:
        self.root.run_dir(name)  # a name that is no run here: not found
        with self._lock:
            job = self._jobs.get(name)
        if job is None or job.proc.poll() is not None:
            raise GanforgeError(f"{name} is not training from this dashboard; stop a run started elsewhere "
                                f"with Ctrl-C where it runs")
        job.stopping = True
        job.proc.send_signal(signal.SIGINT)  # the run checkpoints at the next step boundary
        try:
            job.proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass  # still finishing its step: the page shows "stopping"
        return job.describe()

    # ---- state -------------------------------------------------------------------------------
    def get(self, name: str) -> dict | None:
        with self._lock:
            job = self._jobs.get(name)
        return job.describe() if job else None

    def all(self) -> list[dict]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j.describe() for j in jobs]

    def close(self, wait: float = 60.0) -> None:
        """Server shutdown: every run still training checkpoints and stops."""
        with self._lock:
            live = [j for j in self._jobs.values() if j.proc.poll() is None]
        for j in live:
            if not j.stopping:  # one SIGINT each: a second one quits without saving
                j.stopping = True
                j.proc.send_signal(signal.SIGINT)
        for j in live:
            try:
                j.proc.wait(wait)
            except subprocess.TimeoutExpired:
                j.proc.kill()

    # ---- the child -----------------------------------------------------------------------------
    def _launch(self, name: str, path: Path, args: list[str]) -> dict:
        with self._lock:
            old = self._jobs.get(name)
            if old is not None and old.proc.poll() is None:
                raise GanforgeError(f"{name} is already training from this dashboard; stop it first")
            before = _stamp(path / CONFIG)
            job = Job(name, path, [sys.executable, "-m", "ganforge", *args])
            self._jobs[name] = job
        t_end = time.monotonic() + self.start_wait
        while time.monotonic() < t_end and job.proc.poll() is None and _stamp(path / CONFIG) == before:
            time.sleep(0.1)
        if job.state == "failed":  # the CLI refused it: its line for the page, no job left behind
            with self._lock:
                if self._jobs.get(name) is job:
                    del self._jobs[name]
                    if old is not None:
                        self._jobs[name] = old
            raise GanforgeError(job.error().removeprefix("error: "))
        return job.describe()


def _stamp(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)

