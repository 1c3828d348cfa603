"""Opening the lab from the command line.

On a first start (no catalog drawn before, so nothing to put on the first frame) a second process
builds the catalogue index while this one imports Textual and draws: reading the front matter of a
thousand files is a third of a second of CPU that would otherwise wait for the first frame. It
hands the catalogue it built back (pickled, through a pipe from our own child), so the lab does not
stat and read the thousand rows again. The index is safe to build from two processes at once, so
the lab's own load never depends on the builder: without its answer the lab builds the index itself.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from lab.catalog_index import CatalogIndex

BUILD_INDEX = ("import pickle, sys; from lab.catalog_index import load_index; "
               "sys.stdout.buffer.write(pickle.dumps(load_index(sys.argv[1:])))")


def open_lab(exercise_dirs: Sequence[str]) -> int:
    builder = start_index_builder(exercise_dirs)
    from lab.tui.app import run_app

    return run_app(list(exercise_dirs), index_builder=builder)


def start_index_builder(exercise_dirs: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """A process building the index, or None when the lab has a catalog to draw already (or cannot spawn)."""
    from lab.tui.summary import load_cached

    if load_cached(exercise_dirs) is not None:
        return None
    try:
        return subprocess.Popen([sys.executable, "-c", BUILD_INDEX, *exercise_dirs],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None  # the lab builds the index itself, as it always can


def built_catalog(builder: subprocess.Popen[bytes], timeout: float) -> "CatalogIndex | None":
    """The catalogue the builder built, once it ends; None when it failed, said nothing or was stuck
    (killed after `timeout` seconds: a network folder?)."""
    from lab.catalog_index import CatalogIndex

    try:
        out, _ = builder.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        builder.kill()
        builder.communicate()
        return None
    if builder.returncode != 0 or not out:
        return None
    try:
        catalog = pickle.loads(out)
    except Exception:  # cut short: the lab builds the index itself
        return None
    return catalog if isinstance(catalog, CatalogIndex) else None
