"""One `lab grade` at a time per cohort folder: `DIR/cohort.lock`, held for the whole run.

The operating system holds the lock (`flock` on POSIX, `msvcrt.locking` on Windows), so it goes with
the process however it ends (kill -9 included): a lock is never left behind. The file also says who
holds it (pid, host, since when), for the message a second run prints before it exits. Where a
file system does not honour locks (some network shares), the claims in cohort.db still keep two runs
from paying for one call twice (`CohortStore.claim`).
"""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import IO, Any

from lab.errors import LabError
from lab.settings.sqlite import now

LOCK_FILE = "cohort.lock"
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


class FolderBusy(LabError):
    """Another `lab grade` holds the cohort folder."""


class _NoLocks(Exception):
    """The file system takes no lock at all."""


def _try_lock(handle: IO[bytes]) -> bool:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCKS:  # a share that does not lock at all: go on under the claims in cohort.db
            raise _NoLocks(exc.strerror) from exc
        raise LabError(f"Cannot lock {handle.name} ({exc.strerror}); choose another --out.") from exc


def _holder(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {int(data['pid'])} on {data['host']}, since {data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its details are not written yet"


class FolderLock:
    """`with FolderLock(folder):` holds the folder for this process, or raises FolderBusy saying who has it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._handle: IO[bytes] | None = None
        self.warning: str | None = None  # set when the folder could not be locked and the run goes on without it

    def acquire(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+b")
        except OSError as exc:
            raise LabError(f"Cannot create the cohort folder {self.folder}: {exc.strerror}; choose another --out.") from exc
        try:
            locked = _try_lock(handle)
        except _NoLocks as exc:
            locked = True
            self.warning = (f"{self.path} cannot be locked on this file system ({exc}): a second `lab grade` on this folder "
                            "would not be stopped, though no call would be paid for twice.")
        except LabError:
            handle.close()
            raise
        if not locked:
            handle.close()
            raise FolderBusy(f"{self.folder} is being graded by another `lab grade` ({_holder(self.path)}): wait for it to "
                             "finish (or stop it), then run the same command again.")
        self._handle = handle
        holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now()})
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(holder.encode())
            handle.flush()
        except OSError:
            pass  # the lock holds all the same; only the second run's message is vaguer

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file lets the lock go
            self._handle = None

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
