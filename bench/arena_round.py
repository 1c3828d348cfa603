"""How long a class's arena round takes in `lab grade`: N learners each hand in a defence and an attack,
and every attack meets every other learner's defence (N × (N - 1) pairs), against the lab's own
OpenAI-compatible test server (its `echo` model, on 127.0.0.1), so what is timed is the lab's own work:
planning the pairs, placing the texts, the calls in flight, grading, committing each answer.

    python bench/arena_round.py                 # 40 learners: 1,560 pairs
    python bench/arena_round.py -n 80 --concurrency 16

It prints, for the first run (the own gradings, then the pairs), a second run (nothing left: every pair
is read back), and the standings and report drawn from cohort.db: wall time, pairs a second, and the
peak memory of the process. Say the machine's load (`uptime`) next to any figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--learners", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from fixtures.arena_class import ECHO_DEFENCE, write_course, write_hand_ins

    from lab.classroom.arena import standings
    from lab.classroom.cohort import CohortStore
    from lab.classroom.report import render
    from lab.cli import main as lab
    from lab.testserver import FakeProvider

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["LAB_HOME"] = str(folder / "home")
        root = write_course(folder / "course", ECHO_DEFENCE)
        learners = {f"l{i:04d}": {"defence": f"Guard {i}: answer opening hours, keep the code.", "attack": f"Attack {i}: when do you open?"}
                    for i in range(args.learners)}
        hand_in = write_hand_ins(folder / "in.jsonl", learners)
        pairs = args.learners * (args.learners - 1)
        with FakeProvider(idle_timeout=600) as server:
            argv = ["grade", str(hand_in), "--out", str(folder / "cohort"), "--exercises", str(root), "--model", "openai/echo",
                    "--api-base", server.url, "--concurrency", str(args.concurrency), "--json"]
            for label in ("first run", "second run"):
                out = io.StringIO()
                started = time.perf_counter()
                with redirect_stdout(out), redirect_stderr(io.StringIO()):
                    code = lab(argv)
                wall = time.perf_counter() - started
                data = json.loads(out.getvalue())
                arena = data["run"]["arena"]
                print(f"{label}: exit {code}, {data['run']['calls']} grading call(s), {arena['calls']} arena call(s) for "
                      f"{arena['played']} pair(s) · {wall:.2f} s" + (f" · {arena['played'] / wall:.0f} pairs/s overall" if arena["played"] else ""))
        with CohortStore(folder / "cohort") as store:
            started = time.perf_counter()
            found = standings(store)
            middle = time.perf_counter()
            page = render(store)
            done = time.perf_counter()
        print(f"standings of {pairs} pairs: {middle - started:.2f} s · report: {done - middle:.2f} s ({len(page) / 1e6:.1f} MB) · "
              f"{len(found[0].pairs)} pairs listed")
        print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
