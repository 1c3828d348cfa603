"""Wall time of `lab` commands that start often and must stay quick (`lab list`, `lab validate`, ...).

Each command runs N times as a fresh process (what a learner's shell does); the median, fastest and
slowest wall time and the median CPU time are printed. Nothing is asserted: timings belong here,
not in the tests.

    python bench/cli_startup.py                 # 7 runs of each default command
    python bench/cli_startup.py -n 15 --command "list --json" --command "show prompt-engineering/delimiters"
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_COMMANDS = ["--version", "list", "validate", "progress"]


def lab_command() -> list[str]:
    """The installed `lab` script next to this Python, else `python -m lab`."""
    script = Path(sys.executable).with_name("lab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lab"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(argv: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each run. CPU time barely moves when the machine is busy;
    wall time is what the learner waits."""
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_before = time.perf_counter(), _children_cpu()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall.append(time.perf_counter() - started)
        cpu.append(_children_cpu() - cpu_before)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--command", action="append", metavar="ARGS",
                        help=f"lab arguments to time, repeatable (default: {', '.join(DEFAULT_COMMANDS)})")
    parser.add_argument("--exercises", action="append", default=[], metavar="DIR", help="extra exercise folder(s) to load")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="lab-bench-")  # an empty LAB_HOME: no learner data, no config
    env = {**os.environ, "LAB_HOME": home, "NO_COLOR": "1"}
    base = lab_command()
    extra = [arg for folder in args.exercises for arg in ("--exercises", folder)]
    try:
        print(f"{shlex.join(base)} · {args.runs} runs each · Python {sys.version.split()[0]} · {os.cpu_count()} CPU(s)")
        print(f"{'command':<28} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8}")
        for command in args.command or DEFAULT_COMMANDS:
            words = shlex.split(command)
            argv = base + words + (extra if words[0] != "--version" else [])
            time_runs(argv, 1, env)  # warm the file cache, .pyc files and compiled templates
            wall, cpu = time_runs(argv, args.runs, env)
            print(f"lab {command:<24} {statistics.median(wall):>7.3f}s {min(wall):>7.3f}s {max(wall):>7.3f}s "
                  f"{statistics.median(cpu):>7.3f}s")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
