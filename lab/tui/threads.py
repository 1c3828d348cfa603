"""Blocking work that must never hold up quitting.

Textual joins its thread workers when the app exits, so a worker blocked in a 5-second import or
in a model call that never answers would keep the terminal waiting. The work runs in a daemon
thread instead, and the worker only watches it: when the app exits (the worker is cancelled),
the worker returns at once and the daemon thread is abandoned to the interpreter's exit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from textual.worker import get_current_worker

T = TypeVar("T")
POLL_S = 0.1


@dataclass
class Outcome(Generic[T]):
    finished: bool
    value: T | None = None
    error: BaseException | None = None


def run_watched(work: Callable[[], T], name: str, on_abandon: Callable[[], Any] | None = None) -> Outcome[T]:
    """Run `work` in a daemon thread from inside a thread worker; wait for it unless the worker is
    cancelled, in which case call `on_abandon` (say, to set a cancel event) and return unfinished."""
    worker = get_current_worker()
    done = threading.Event()
    outcome: Outcome[T] = Outcome(False)

    def target() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # handed to the caller, who decides what the learner sees
            outcome.error = exc
        finally:
            outcome.finished = True
            done.set()

    threading.Thread(target=target, daemon=True, name=name).start()
    while not done.wait(POLL_S):
        if worker.is_cancelled:
            if on_abandon is not None:
                on_abandon()
            return Outcome(False)
    return outcome
