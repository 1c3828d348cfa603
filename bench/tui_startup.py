"""Time to first frame of the lab's catalog against a minimal Textual app (Header, Static, Footer).

Each app is started in a fresh pseudo-terminal (100x32) and timed from the spawn until its text
appears on the terminal: for the minimal app its Static's text; for the lab its header (the
first frame) and then the line drawn under the exercise list once it is filled in. The median of
several runs is reported, alternating the apps so that both see the same machine state.

It also checks that litellm is imported off the main thread and only after the first frame:
the lab is started through a small wrapper that logs the thread and time of litellm's import.

    /work/venv/bin/python bench/tui_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (32, 100)  # rows, columns

MINIMAL_APP = textwrap.dedent("""
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Minimal(App):
        def compose(self):
            yield Header()
            yield Static("MINIMAL READY")
            yield Footer()

    Minimal().run()
""")

# Starts the lab exactly as `lab` does (lab.cli.main), after hooking the import of litellm.
LAB_WITH_IMPORT_LOG = textwrap.dedent("""
    import json, sys, threading, time
    log_path = sys.argv[1]

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name == "litellm":
                with open(log_path, "a") as log:
                    log.write(json.dumps({"thread": threading.current_thread().name,
                                          "main": threading.current_thread() is threading.main_thread(),
                                          "at": time.time()}) + "\\n")
            return None

    sys.meta_path.insert(0, Watch())
    sys.argv = ["lab"]
    from lab.cli import main
    sys.exit(main([]))
""")


def first_seen(argv: list[str], markers: list[str], env: dict[str, str], limit: float = 30.0,
               until: Path | None = None) -> tuple[list[float], float]:
    """Spawn `argv` on a pty; seconds until each marker first appears, and the wall time at spawn.
    With `until`, keep the app running (reading its output) until that file exists."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the app
        os.execvpe(argv[0], argv, env)
    started_wall, started = time.time(), time.perf_counter()
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[0], SIZE[1], 0, 0))
    seen: list[float | None] = [None] * len(markers)
    buffer = b""
    try:
        while (None in seen or (until is not None and not until.exists())) and time.perf_counter() - started < limit:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            now = time.perf_counter() - started
            for i, marker in enumerate(markers):
                if seen[i] is None and marker.encode() in buffer:
                    seen[i] = now
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    if until is not None and not until.exists():
        tail = re.sub(rb"\x1b\[[0-9;?<>=]*[a-zA-Z]", b"", buffer[-3000:]).decode(errors="replace")
        raise SystemExit(f"{argv[:3]}: {until.name} never appeared within {limit:.0f} s; the terminal ended with:\n{tail}")
    if None in seen:
        missing = [m for m, s in zip(markers, seen) if s is None]
        raise SystemExit(f"{argv[:3]}: never showed {missing!r} within {limit:.0f} s")
    return [float(s) for s in seen], started_wall  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    python = sys.executable
    minimal, frame, filled, litellm_checks = [], [], [], []
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
        env.update(LAB_HOME=home, TERM="xterm-256color", COLUMNS=str(SIZE[1]), LINES=str(SIZE[0]))
        # one warm-up of each so that both read their files from the page cache
        first_seen([python, "-c", MINIMAL_APP], ["MINIMAL READY"], env)
        log = Path(home) / "litellm-import.log"
        first_seen([python, "-c", LAB_WITH_IMPORT_LOG, str(log)], ["Prompt Lab", "enter opens the highlighted exercise"], env)
        for _ in range(args.runs):
            (t,), _ = first_seen([python, "-c", MINIMAL_APP], ["MINIMAL READY"], env)
            minimal.append(t)
            log.unlink(missing_ok=True)
            (t_frame, t_filled), spawned = first_seen([python, "-c", LAB_WITH_IMPORT_LOG, str(log)],
                                                      ["Prompt Lab", "enter opens the highlighted exercise"], env, limit=30)
            frame.append(t_frame)
            filled.append(t_filled)
            time.sleep(0.2)  # let the litellm import (if it started) log before the kill landed
            imports = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            litellm_checks.append((imports, spawned + t_frame))

        # one more run, kept alive until litellm has been imported, to see where and when that happens
        log.unlink(missing_ok=True)
        (t_frame, _), spawned = first_seen([python, "-c", LAB_WITH_IMPORT_LOG, str(log)],
                                           ["Prompt Lab", "enter opens the highlighted exercise"], env, limit=60, until=log)
        time.sleep(0.1)
        waited = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    m, f, c = statistics.median(minimal), statistics.median(frame), statistics.median(filled)
    print(f"runs: {args.runs} per app, pty {SIZE[1]}x{SIZE[0]}, {python}")
    print(f"minimal Textual app, first frame : median {m * 1000:6.0f} ms  (min {min(minimal) * 1000:.0f}, max {max(minimal) * 1000:.0f})")
    print(f"lab, first frame (catalog screen) : median {f * 1000:6.0f} ms  = {f / m:.2f}x minimal")
    print(f"lab, catalog rows on screen       : median {c * 1000:6.0f} ms  = {c / m:.2f}x minimal")
    on_main = sum(1 for imports, _ in litellm_checks for i in imports if i["main"])
    before_frame = sum(1 for imports, frame_at in litellm_checks for i in imports if i["at"] < frame_at)
    print(f"litellm import during the timed runs: on the main thread {on_main} time(s), before the first frame {before_frame} time(s)")
    if waited:
        first = waited[0]
        print(f"litellm import (run kept alive): thread {first['thread']!r} (main thread: {first['main']}), "
              f"{(first['at'] - spawned - t_frame) * 1000:.0f} ms after the first frame")
    else:
        print("litellm import (run kept alive): never happened within 60 s")
    target = 1.2
    print(f"target: catalog within {target}x the minimal app -> {'MET' if c / m <= target else 'NOT MET'} "
          f"(first frame {'MET' if f / m <= target else 'NOT MET'})")


if __name__ == "__main__":
    main()
