"""Opening the lab from the command line.

On a first start (no catalog drawn before, so nothing to put on the first frame) a second process
builds the catalogue index while this one imports Textual: reading the front matter of a thousand
files is a third of a second of CPU that would otherwise come after the first frame. It hands the
catalogue back (pickled, through a pipe from our own child) as soon as it has it, before it writes
the index, and the catalog screen's first frame waits briefly for it (`LabApp.first_catalog`). The
index is safe to build from two processes at once, so the lab never depends on the builder: without
its answer the lab builds the index itself.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from lab.format.catalog import CatalogIndex

BUILD_INDEX = "from lab.tui.launch import build_and_hand_back; build_and_hand_back()"


def open_lab(exercise_dirs: Sequence[str]) -> int:
    builder = start_index_builder(exercise_dirs)
    from lab.tui.app import run_app

    return run_app(list(exercise_dirs), index_builder=builder)


def start_index_builder(exercise_dirs: Sequence[str]) -> "IndexBuilder | None":
    """A process building the index, or None when the lab has a catalog to draw already (or cannot spawn)."""
    from lab.settings import paths

    if paths.catalog_cache_file().exists():  # checked first: on a first start the builder leaves at once
        from lab.tui.summary import load_cached

        if load_cached(exercise_dirs) is not None:
            return None
    try:
        process = subprocess.Popen([sys.executable, "-c", BUILD_INDEX, *exercise_dirs],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None  # the lab builds the index itself, as it always can
    return IndexBuilder(process)


def build_and_hand_back() -> None:
    """The builder's own work (in the child): the catalogue to stdout, closed at once, then the index written."""
    from lab.format.catalog import load_index

    def hand_back(catalog: "CatalogIndex") -> None:
        sys.stdout.buffer.write(pickle.dumps(catalog))
        sys.stdout.buffer.flush()
        os.close(sys.stdout.fileno())  # the end of the answer: the lab reads to here, not to our exit

    load_index(sys.argv[1:], before_write=hand_back)


class IndexBuilder:
    """The builder process, and a thread reading its answer as it comes: the pipe never fills up, and
    the lab can wait for the answer with a timeout from any thread."""

    def __init__(self, process: subprocess.Popen[bytes]):
        self.process = process
        self._answer = b""
        self._answered = threading.Event()
        self._decoded = False
        self._catalog: "CatalogIndex | None" = None
        threading.Thread(target=self._read, name="lab-index-builder", daemon=True).start()

    def _read(self) -> None:
        try:
            assert self.process.stdout is not None
            self._answer = self.process.stdout.read()
        except (OSError, ValueError):
            pass
        finally:
            self._answered.set()

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    def catalog(self, timeout: float) -> "CatalogIndex | None":
        """The catalogue the builder handed back; None when it failed or said nothing usable. Raises
        TimeoutError when it has not answered within `timeout` seconds (a later call can wait again).
        Decoded once: the first frame and the session worker may both ask."""
        if not self._answered.wait(timeout):
            raise TimeoutError
        if self._decoded:
            return self._catalog
        from lab.format.catalog import CatalogIndex

        try:
            catalog = pickle.loads(self._answer)
        except Exception:  # cut short or not ours: the lab builds the index itself
            catalog = None
        self._catalog = catalog if isinstance(catalog, CatalogIndex) else None
        self._decoded, self._answer = True, b""
        return self._catalog

    def stop(self) -> None:
        """Kill the builder if it still runs (the lab quit first, or it is stuck), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
