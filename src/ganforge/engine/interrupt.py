"""Ctrl-C during training: finish the step, checkpoint it, stop.

A KeyboardInterrupt raised mid-step (after D's optimiser step, before G's) would leave a state
no uninterrupted run ever had, and a checkpoint of it would break exact resume. So the first
SIGINT only asks the loop to stop at the next step boundary (under torchrun: the next log step,
where the ranks agree on it); a second one raises KeyboardInterrupt at once, saving nothing new.
"""
from __future__ import annotations

import signal
import sys
import threading


class Interrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C at a step boundary, and that step was checkpointed."""

    def __init__(self, step: int, run_path):
        super().__init__(f"interrupted at step {step}")
        self.step, self.run_path = step, run_path


class StopOnSigint:
    """Context manager: while active, SIGINT sets `requested` instead of raising. Inactive
    (plain KeyboardInterrupt) outside the main thread, where Python cannot install handlers."""

    def __init__(self, announce: bool = True):
        self.requested, self.announce, self._old = False, announce, None

    def _handle(self, signum, frame):
        if self.requested:  # second Ctrl-C: the user does not want to wait
            raise KeyboardInterrupt
        self.requested = True
        if self.announce:
            print("\nCtrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to quit "
                  "without saving)", file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False
