"""One training process per run folder: RUN/.ganforge.lock, held while training.

The lock is an flock(2) on that file, not the file's existence: the kernel releases it when
its holder exits in any way (kill -9, power loss), so a leftover file is never a stale lock and
no pid needs guessing (a pid in a stale file may belong to an unrelated process by now). The
holder writes its pid and host into the file only so a refused process can name it. Released
on exit, the file is removed. POSIX only (fcntl); elsewhere runs are not locked.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from .errors import GanforgeError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".ganforge.lock"


class RunLock:
    def __init__(self, folder: str | Path):
        self.folder, self.path, self.fd = Path(folder), Path(folder) / LOCK, None

    def acquire(self) -> "RunLock":
        if fcntl is None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # the holder may remove the file between our open and lock: retry
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise GanforgeError(f"{self.folder} is in use: {holder} is training into it; wait for it "
                                    f"to finish (or stop it) or choose another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"ganforge pid {os.getpid()} on {socket.gethostname()}".encode())
                self.fd = fd
                return self
            os.close(fd)  # we locked a file its holder had just removed
        raise GanforgeError(f"could not lock {self.path}; another process keeps replacing it")

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)  # before unlocking, so no one locks a file about to vanish
            except OSError:
                pass
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
