"""How fast `lab grade` grades a class and how it scales, against a bare HTTP client and promptfoo.

One exercise with two deterministic checks (contains a word; at most N words), each submission with
its own prompt, against a local OpenAI-compatible server (aiohttp, its own process, 127.0.0.1) that
answers every request after `--delay` (100 ms), at concurrency 32: at best 320 gradings a second.

Part 1, 1,000 submissions, `--runs` rounds, each round timing back to back (the order alternating):
- `lab grade` (a fresh process: start-up, imports, reading, grading, the report and `--json` included);
- a bare aiohttp client (a fresh process reading the same file and making only the same requests,
  same bodies, same concurrency): the floor for any client in Python;
- promptfoo 0.115 grading the same prompts with the same two assertions (`-j 32`, no cache).
Part 2, `lab grade` at `--sizes` (1,000, 10,000, 100,000): wall time and peak memory (the process's
own maximum resident set, read by GNU time) of a first run into an empty folder, then of a rerun over the
finished folder (nothing left to grade: reading, planning and the report). At the `--bare-at` sizes
(10,000 by default) the bare client runs too, after the first run: lab grade's fixed costs (start-up,
the report) spread over more requests there.

It ends with the issue's targets (28), each met or not, and the machine's load average before, during
and after: on a shared machine take the ratios, which pair figures taken moments apart, not the times.

    python bench/grade_throughput.py                          # everything (about 12 minutes)
    python bench/grade_throughput.py --runs 5 --sizes 1000 10000
    python bench/grade_throughput.py --no-promptfoo --sizes 1000

promptfoo is not a dependency: the bench looks for it (`--promptfoo PATH`, `$PROMPTFOO`, a
`promptfoo` on PATH, or the copy it installed before) and, failing that, installs promptfoo@0.115
with npm into a cache folder (`~/.cache/prompt-lab-bench`), saying so. The server binds 127.0.0.1
and stops with the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPTFOO_VERSION = "0.115"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prompt-lab-bench"
# issue 28's targets
BARE_TARGET = 1.05  # lab grade's wall ÷ the bare client's, 1,000 submissions
TIME_TARGET = 10.5  # 10,000 ÷ 1,000, wall
MEMORY_TARGET = 1.5  # peak memory at 10,000 (and 100,000) ÷ at 1,000
RERUN_TARGET = 11.0  # a rerun over a finished 10,000 ÷ over a finished 1,000

EXERCISE = """---
format: 1
id: bench/greet
title: Greet the reader
track: bench
level: 1
skills: [clarity]
cases:
  - name: only
rubric:
  pass: 1.0
  criteria:
    - id: says-hello
      check: icontains
      value: hello
    - id: short
      check: max-words
      value: 12
---
{% block brief %}Greet the reader in at most twelve words.{% endblock %}
"""

# The bare client: a file of its own, so its start-up is Python's and aiohttp's and nothing else.
BARE_CLIENT = '''
import asyncio, json, sys

async def main(base, path, concurrency):
    import aiohttp
    with open(path, encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()]
    url = base.rstrip("/") + "/chat/completions"
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(prompt):
            async with slots:
                body = {"model": "bench", "messages": [{"role": "user", "content": prompt}], "temperature": 0}
                async with session.post(url, json=body, headers={"authorization": "Bearer no-key"}) as response:
                    data = await response.json()
                    return data["choices"][0]["message"]["content"]
        answers = await asyncio.gather(*(one(p) for p in prompts))
    print(len(answers))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
'''


def serve(port: int, delay: float, idle: float) -> None:
    """The model: an OpenAI-compatible chat completions endpoint answering after `delay` seconds."""
    from aiohttp import web

    last = [time.monotonic()]
    window: dict[str, float | None] = {"first_in": None, "last_out": None, "count": 0, "first_abs": None, "last_abs": None}

    async def chat(request: web.Request) -> web.Response:
        last[0] = time.monotonic()
        if window["first_in"] is None:
            window["first_in"], window["first_abs"] = last[0], time.time()
        body = await request.json()
        await asyncio.sleep(delay)
        user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        text = f"Hello there, reader {len(user)}!"
        window["last_out"], window["last_abs"] = time.monotonic(), time.time()
        window["count"] = int(window["count"] or 0) + 1
        return web.json_response({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_700_000_000, "model": body.get("model", "m"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(user.split()), "completion_tokens": 4, "total_tokens": len(user.split()) + 4},
        })

    async def watchdog(app: web.Application) -> None:
        async def stop_when_idle() -> None:
            while time.monotonic() - last[0] < idle:
                await asyncio.sleep(1)
            os._exit(0)

        app["watchdog"] = asyncio.create_task(stop_when_idle())

    async def stats(request: web.Request) -> web.Response:
        """The window of the requests since the last reading: from the first one in to the last answer out."""
        first, end, count = window["first_in"], window["last_out"], window["count"]
        edges = {"first_abs": window["first_abs"], "last_abs": window["last_abs"]}
        window.update(first_in=None, last_out=None, count=0, first_abs=None, last_abs=None)
        return web.json_response({"count": count, "seconds": (end - first) if first is not None and end is not None else None, **edges})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/stats", stats)
    app.on_startup.append(watchdog)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the bench server did not start")


@dataclass
class Window:
    """The server's view of one client's requests: from the first request in to the last answer out (start-up,
    reading and the report fall outside it; what a client does between answers is in it), with both edges
    on the wall clock, so the client's start-up (spawn to first request) and tail (last answer to exit) are known."""

    seconds: float
    first: float
    last: float


def window(base: str) -> Window:
    """The requests since the last reading (and the reading resets it)."""
    import urllib.request

    with urllib.request.urlopen(base + "/stats", timeout=10) as response:
        data = json.load(response)
    return Window(float(data["seconds"] or 0.0), float(data["first_abs"] or 0.0), float(data["last_abs"] or 0.0))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def prompts(n: int) -> list[str]:
    # distinct prompts: nothing can be answered from a cache
    return [f"Write a short greeting for reader number {i}, starting with hello." for i in range(n)]


@dataclass
class Class:
    """A class of `size` on disk: the course, the hand-in file, an empty LAB_HOME."""

    work: Path
    size: int
    items: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, parent: Path, size: int) -> "Class":
        work = Path(tempfile.mkdtemp(prefix=f"class-{size}-", dir=parent))
        (work / "course" / "bench").mkdir(parents=True)
        (work / "course" / "bench" / "greet.j2").write_text(EXERCISE, encoding="utf-8")
        items = prompts(size)
        with open(work / "class.jsonl", "w", encoding="utf-8") as f:
            for i, p in enumerate(items):
                f.write(json.dumps({"format": "prompt-lab-submission/1", "learner": f"learner{i:06d}", "exercise": "bench/greet", "prompt": p}) + "\n")
        return cls(work, size, items)

    def env(self) -> dict[str, str]:
        return {**os.environ, "LAB_HOME": str(self.work / "home"), "LAB_MAX_RETRIES": "0", "NO_COLOR": "1"}


# A child's peak RSS as wait4 reports it starts at its parent's: Linux carries the parent's high-water mark
# across the fork and exec. This bench grows (it reads 100,000 results back), so a later child would be
# charged the bench's own peak (a rerun over 100,000 "peaked" at 209 MB that way; alone it takes 70-90 MB).
# GNU time, a small process, starts each child instead and reports the child's own peak.
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def run(command: list[str], env: dict[str, str], cwd: Path, stdout: Path) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (bytes) and exit code of one process, timed from spawn to exit."""
    peak_file = stdout.with_suffix(".peak")
    launcher = [GNU_TIME, "-f", "%M", "-o", str(peak_file), "--"] if GNU_TIME else []
    with open(stdout, "wb") as out, open(stdout.with_suffix(".err"), "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen([*launcher, *command], env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = int(peak_file.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return wall, peak_kb * 1024, child.returncode


def lab_grade(c: Class, base: str, concurrency: int, out: Path) -> tuple[float, int]:
    lab = Path(sys.executable).with_name("lab")
    exe = [str(lab)] if lab.exists() else [sys.executable, "-m", "lab"]
    command = [*exe, "grade", str(c.work / "class.jsonl"), "--out", str(out), "--exercises", str(c.work / "course"),
               "--model", "openai/bench", "--api-base", base, "--concurrency", str(concurrency), "--json"]
    stdout = c.work / "lab.json"
    wall, rss, code = run(command, c.env(), c.work, stdout)
    if code != 0:
        raise SystemExit(f"lab grade failed ({code}): {stdout.with_suffix('.err').read_text()[-2000:]}")
    data = json.loads(stdout.read_text(encoding="utf-8"))
    graded = sum(r["status"] == "graded" for r in data["results"])
    if graded != c.size:
        raise SystemExit(f"lab grade graded {graded} of {c.size}")
    return wall, rss


def bare_client(c: Class, base: str, concurrency: int) -> float:
    script = c.work / "bare.py"
    script.write_text(BARE_CLIENT, encoding="utf-8")
    stdout = c.work / "bare.out"
    wall, _, code = run([sys.executable, str(script), base, str(c.work / "class.jsonl"), str(concurrency)], c.env(), c.work, stdout)
    if code != 0 or stdout.read_text().strip() != str(c.size):
        raise SystemExit(f"the bare client failed ({code}): {stdout.with_suffix('.err').read_text()[-2000:]}")
    return wall


def promptfoo(c: Class, base: str, concurrency: int, executable: str) -> float:
    tests = [{"vars": {"prompt": p}, "assert": [
        {"type": "icontains", "value": "hello"},
        {"type": "javascript", "value": "output.trim().split(/\\s+/).length <= 12"},
    ]} for p in c.items]
    config = c.work / "promptfooconfig.json"
    config.write_text(json.dumps({"description": "bench", "prompts": ["{{prompt}}"], "tests": tests,
                                  "providers": [{"id": "openai:chat:bench", "config": {"apiBaseUrl": base, "apiKey": "no-key", "temperature": 0}}]}),
                      encoding="utf-8")
    env = {**c.env(), "OPENAI_API_KEY": "no-key", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_CONFIG_DIR": str(c.work / "pf-home"), "PROMPTFOO_CACHE_ENABLED": "false"}
    result = c.work / "pf.json"
    result.unlink(missing_ok=True)
    command = [executable, "eval", "-c", str(config), "-j", str(concurrency), "--no-cache", "--no-progress-bar", "--no-table", "-o", str(result)]
    wall, _, code = run(command, env, c.work, c.work / "pf.out")
    stats = ((json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}).get("results") or {}).get("stats") or {}
    answered = stats.get("successes", 0) + stats.get("failures", 0)
    if answered != c.size:
        raise SystemExit(f"promptfoo graded {answered} of {c.size} (exit {code}): {(c.work / 'pf.err').read_text()[-2000:]}")
    return wall


def find_promptfoo(given: str | None, install: bool) -> str | None:
    for candidate in (given, os.environ.get("PROMPTFOO"), shutil.which("promptfoo"),
                      str(CACHE / f"promptfoo-{PROMPTFOO_VERSION}" / "node_modules" / ".bin" / "promptfoo")):
        if candidate and Path(candidate).exists():
            return candidate
    if not install:
        return None
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        print("promptfoo not found and npm is not installed: promptfoo is left out (pass --promptfoo PATH).", flush=True)
        return None
    folder = CACHE / f"promptfoo-{PROMPTFOO_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"promptfoo not found: installing promptfoo@{PROMPTFOO_VERSION} with npm into {folder} (once) …", flush=True)
    # promptfoo pulls in Playwright, whose install script downloads a browser that its evals do not need
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", f"promptfoo@{PROMPTFOO_VERSION}"], cwd=folder,
                          env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}, capture_output=True, text=True, timeout=1800)
    executable = folder / "node_modules" / ".bin" / "promptfoo"
    if done.returncode != 0 or not executable.exists():
        print(f"npm could not install promptfoo ({done.stderr.strip()[-500:]}): promptfoo is left out.", flush=True)
        return None
    return str(executable)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mb(size: float) -> str:
    return f"{size / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="rounds of part 1 (lab grade, bare client, promptfoo at 1,000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="class sizes of part 2 (the first is the base)")
    parser.add_argument("--bare-at", type=int, nargs="*", default=[10000],
                        help="sizes of part 2 at which the bare client runs too, for lab grade ÷ bare there (its fixed costs spread)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.1, help="the server's answer time in seconds")
    parser.add_argument("--promptfoo", help="the promptfoo executable (node_modules/.bin/promptfoo)")
    parser.add_argument("--no-promptfoo", action="store_true", help="leave promptfoo out (and do not install it)")
    parser.add_argument("--keep", action="store_true", help="keep the classes and their graded folders (their paths are printed)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.delay, idle=300)
        return

    pf = None if args.no_promptfoo else find_promptfoo(args.promptfoo, install=True)
    loads = [load()]
    print(f"load average (1, 5, 15 min) at the start: {loads[0]} on {os.cpu_count()} CPU(s)", flush=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--delay", str(args.delay)])
    scratch = Path(tempfile.mkdtemp(prefix="grade-bench-"))
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}/v1"
        walls: dict[str, list[float]] = {"lab grade": [], "bare aiohttp client": [], "promptfoo": []}
        loops: dict[str, list[float]] = {"lab grade": [], "bare aiohttp client": []}
        starts: dict[str, list[float]] = {"lab grade": [], "bare aiohttp client": []}  # spawn to the first request in
        tails: dict[str, list[float]] = {"lab grade": [], "bare aiohttp client": []}  # the last answer out to exit
        paired: list[float] = []
        paired_loops: list[float] = []
        window(base)  # reset
        small = Class.make(scratch, 1000)
        for n in range(args.runs):
            order = ["lab", "bare"] if n % 2 == 0 else ["bare", "lab"]
            for who in order:
                spawned = time.time()
                if who == "lab":
                    name = "lab grade"
                    wall, _ = lab_grade(small, base, args.concurrency, small.work / f"cohort-{n}")
                else:
                    name = "bare aiohttp client"
                    wall = bare_client(small, base, args.concurrency)
                seen = window(base)
                walls[name].append(wall)
                loops[name].append(seen.seconds)
                starts[name].append(seen.first - spawned)
                tails[name].append(spawned + wall - seen.last)
            paired.append(walls["lab grade"][-1] / walls["bare aiohttp client"][-1])
            paired_loops.append(loops["lab grade"][-1] / loops["bare aiohttp client"][-1])
            if pf:
                walls["promptfoo"].append(promptfoo(small, base, args.concurrency, pf))
                window(base)
            loads.append(load())
            print(f"round {n + 1}: lab grade {walls['lab grade'][-1]:.2f} s (start {starts['lab grade'][-1]:.2f} s, requests "
                  f"{loops['lab grade'][-1]:.2f} s, tail {tails['lab grade'][-1]:.2f} s), bare client {walls['bare aiohttp client'][-1]:.2f} s "
                  f"(start {starts['bare aiohttp client'][-1]:.2f} s, requests {loops['bare aiohttp client'][-1]:.2f} s, "
                  f"tail {tails['bare aiohttp client'][-1]:.2f} s): "
                  f"{paired[-1]:.3f}× whole, {paired_loops[-1]:.3f}× requests"
                  + (f", promptfoo {walls['promptfoo'][-1]:.2f} s" if pf else "") + f" · load {loads[-1]}", flush=True)

        scale: dict[int, dict[str, float]] = {}
        for size in args.sizes:
            c = small if size == 1000 else Class.make(scratch, size)
            out = c.work / "scale-cohort"
            first, first_rss = lab_grade(c, base, args.concurrency, out)
            wal = out / "cohort.db-wal"  # left behind, it would be read back by the rerun
            print(f"{size:,}: cohort.db {mb((out / 'cohort.db').stat().st_size)}, its WAL "
                  f"{mb(wal.stat().st_size) if wal.exists() else 'gone'} before the rerun", flush=True)
            bare = bare_client(c, base, args.concurrency) if size in args.bare_at else None
            again, again_rss = lab_grade(c, base, args.concurrency, out)
            with sqlite3.connect(out / "cohort.db") as db:
                calls = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
            if calls != size:
                raise SystemExit(f"{calls} calls recorded for {size} submissions: the rerun called the model again")
            scale[size] = {"wall": first, "rss": first_rss, "rerun": again, "rerun_rss": again_rss, **({"bare": bare} if bare else {})}
            loads.append(load())
            versus = f" (bare client {bare:.2f} s: {first / bare:.3f}×)" if bare else ""
            print(f"{size:,} submissions: {first:.2f} s{versus}, peak {mb(first_rss)}; rerun {again:.2f} s, peak {mb(again_rss)} · load {loads[-1]}",
                  flush=True)
            if c is not small and not args.keep:
                shutil.rmtree(c.work, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep:
            print(f"kept: {scratch}", flush=True)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    ideal = 1000 / (args.concurrency / args.delay)
    print()
    print(f"## 1,000 submissions, concurrency {args.concurrency}, server answering in {args.delay * 1000:.0f} ms (ideal {ideal:.2f} s), "
          f"{args.runs} round(s), medians")
    print()
    print("| client | wall, spawn to exit (median) | min–max | gradings/s | ÷ bare client | ÷ promptfoo | start: spawn to first request | "
          "requests, first in to last out (median) | ÷ bare client | tail: last answer to exit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, values in walls.items():
        if not values:
            continue
        m = median(values)
        bare = m / median(walls["bare aiohttp client"])
        versus = f"{m / median(walls['promptfoo']):.2f}×" if walls["promptfoo"] else "—"
        loop = (f"{median(starts[name]):.2f} s | {median(loops[name]):.2f} s | {median(loops[name]) / median(loops['bare aiohttp client']):.3f}× | "
                f"{median(tails[name]):.2f} s" if name in loops else "— | — | — | —")
        print(f"| {name} | {m:.2f} s | {min(values):.2f}–{max(values):.2f} s | {1000 / m:.0f} | {bare:.3f}× | {versus} | {loop} |")
    print(f"\nlab grade ÷ bare client, round by round: whole {', '.join(f'{p:.3f}×' for p in paired)} (median {median(paired):.3f}×); "
          f"requests {', '.join(f'{p:.3f}×' for p in paired_loops)} (median {median(paired_loops):.3f}×)")
    if scale:
        print()
        print("## lab grade by class size (a first run into an empty folder, then a rerun over the finished folder)")
        print()
        print("| submissions | wall | ÷ base | ÷ bare client, whole | peak memory | ÷ base | rerun | ÷ base | rerun peak memory |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        base_size = args.sizes[0]
        b = scale[base_size]
        for size, s in scale.items():
            versus = f"{s['wall'] / s['bare']:.3f}×" if "bare" in s else "—"
            print(f"| {size:,} | {s['wall']:.2f} s | {s['wall'] / b['wall']:.2f}× | {versus} | {mb(s['rss'])} | {s['rss'] / b['rss']:.2f}× | "
                  f"{s['rerun']:.2f} s | {s['rerun'] / b['rerun']:.2f}× | {mb(s['rerun_rss'])} |")

    targets: list[tuple[str, str, str, bool]] = []
    if walls["lab grade"] and walls["bare aiohttp client"]:
        value = median(paired_loops)
        targets.append(("the grading loop ÷ the bare client's requests, 1,000 (server's window, median of the rounds)", f"{value:.3f}×",
                        f"≤ {BARE_TARGET}×", value <= BARE_TARGET))
        value = median(paired)
        targets.append(("lab grade ÷ bare aiohttp client, 1,000, whole processes (median of the rounds)", f"{value:.3f}×",
                        f"≤ {BARE_TARGET}×", value <= BARE_TARGET))
    if walls["promptfoo"]:
        value = median(walls["lab grade"]) / median(walls["promptfoo"])
        targets.append(("lab grade ÷ promptfoo, 1,000", f"{value:.2f}×", "< 1×", value < 1))
    if 1000 in scale and 10000 in scale:
        s, b = scale[10000], scale[1000]
        targets.append(("10,000 ÷ 1,000, wall", f"{s['wall'] / b['wall']:.2f}×", f"≤ {TIME_TARGET}×", s["wall"] / b["wall"] <= TIME_TARGET))
        targets.append(("10,000 ÷ 1,000, peak memory", f"{s['rss'] / b['rss']:.2f}×", f"≤ {MEMORY_TARGET}×", s["rss"] / b["rss"] <= MEMORY_TARGET))
        targets.append(("rerun over a finished 10,000 ÷ over 1,000", f"{s['rerun'] / b['rerun']:.2f}×", f"≤ {RERUN_TARGET}×",
                        s["rerun"] / b["rerun"] <= RERUN_TARGET))
    if 1000 in scale and 100000 in scale:
        s, b = scale[100000], scale[1000]
        targets.append(("100,000 ÷ 1,000, peak memory", f"{s['rss'] / b['rss']:.2f}×", f"≤ {MEMORY_TARGET}× (flat)", s["rss"] / b["rss"] <= MEMORY_TARGET))
        targets.append(("rerun over a finished 100,000 ÷ over 1,000, peak memory", f"{s['rerun_rss'] / b['rerun_rss']:.2f}×",
                        f"≤ {MEMORY_TARGET}× (flat)", s["rerun_rss"] / b["rerun_rss"] <= MEMORY_TARGET))
    loads.append(load())
    print()
    print("## Targets (issue 28)")
    print()
    print("| target | measured | limit | |")
    print("|---|---|---|---|")
    for name, value, limit, met in targets:
        print(f"| {name} | {value} | {limit} | {'met' if met else 'NOT MET'} |")
    print()
    print(f"load average (1, 5, 15 min) on {os.cpu_count()} CPU(s): start {loads[0]}; after each step {' · '.join(loads[1:-1])}; end {loads[-1]}")
    if max(float(x.split(',')[0]) for x in loads) > (os.cpu_count() or 1) * 0.5:
        print("The machine was busy with other work during the run (a 1-minute load above half its CPUs): times are slower than on a "
              "quiet machine and the ratios noisier; compare them with figures taken on a quiet one.")


if __name__ == "__main__":
    main()
