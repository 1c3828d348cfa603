"""How fast `lab grade` grades a class, next to promptfoo grading the same tests in the same run.

1,000 submissions of one exercise with two deterministic checks (contains a word; at most N words),
against a local OpenAI-compatible server that answers every request after 100 ms (so 32 calls in
flight give at most 320 gradings a second), at concurrency 32. Each tool runs as a fresh process
(start-up and imports included), the two alternating, `--runs` times; medians are reported.

    python bench/grade_throughput.py --promptfoo /tmp/pf/node_modules/.bin/promptfoo
    python bench/grade_throughput.py --runs 5 --submissions 1000 --concurrency 32

promptfoo is not a dependency: install it outside the repository (`npm install promptfoo@0.115` in a
temporary folder) and pass its executable; without one, only `lab grade` is timed. The server binds
127.0.0.1 and stops with the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def serve(port: int, delay: float, idle: float) -> None:
    """The model: an OpenAI-compatible chat completions endpoint answering after `delay` seconds."""
    from aiohttp import web

    last = [time.monotonic()]

    async def chat(request: web.Request) -> web.Response:
        last[0] = time.monotonic()
        body = await request.json()
        await asyncio.sleep(delay)
        user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        text = f"Hello there, reader {len(user)}!"
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

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
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


def prompts(n: int) -> list[str]:
    # distinct prompts: nothing can be answered from a cache
    return [f"Write a short greeting for reader number {i}, starting with hello." for i in range(n)]


def lab_command(work: Path, base: str, concurrency: int) -> list[str]:
    lab = Path(sys.executable).with_name("lab")
    exe = [str(lab)] if lab.exists() else [sys.executable, "-m", "lab"]
    return [*exe, "grade", str(work / "class.jsonl"), "--out", str(work / "cohort"), "--exercises", str(work / "course"),
            "--model", "openai/bench", "--api-base", base, "--concurrency", str(concurrency), "--json"]


def promptfoo_config(work: Path, base: str, items: list[str]) -> Path:
    tests = [{"vars": {"prompt": p}, "assert": [
        {"type": "icontains", "value": "hello"},
        {"type": "javascript", "value": "output.trim().split(/\\s+/).length <= 12"},
    ]} for p in items]
    config = {"description": "bench", "prompts": ["{{prompt}}"],
              "providers": [{"id": "openai:chat:bench", "config": {"apiBaseUrl": base, "apiKey": "no-key", "temperature": 0}}],
              "tests": tests}
    path = work / "promptfooconfig.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.1, help="the server's answer time in seconds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--promptfoo", help="the promptfoo executable (node_modules/.bin/promptfoo)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.delay, idle=120)
        return

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--delay", str(args.delay)])
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}/v1"
        items = prompts(args.submissions)
        ideal = args.submissions / (args.concurrency / args.delay)
        rows: dict[str, list[float]] = {"lab grade": [], "promptfoo": []}
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
                work = Path(tmp)
                (work / "course" / "bench").mkdir(parents=True)
                (work / "course" / "bench" / "greet.j2").write_text(EXERCISE, encoding="utf-8")
                with open(work / "class.jsonl", "w", encoding="utf-8") as f:
                    for i, p in enumerate(items):
                        f.write(json.dumps({"format": "prompt-lab-submission/1", "learner": f"learner{i:04d}", "exercise": "bench/greet", "prompt": p}) + "\n")
                env = {**os.environ, "LAB_HOME": str(work / "home"), "LAB_MAX_RETRIES": "0", "NO_COLOR": "1"}
                wall, done = timed(lab_command(work, base, args.concurrency), env, work)
                if done.returncode != 0:
                    raise SystemExit(f"lab grade failed ({done.returncode}): {done.stderr[-2000:]}")
                data = json.loads(done.stdout)
                graded = sum(r["status"] == "graded" for r in data["results"])
                assert graded == args.submissions and data["run"]["calls"] == args.submissions, (graded, data["run"])
                rows["lab grade"].append(wall)
                print(f"run {run + 1}: lab grade {wall:.2f} s ({graded} graded, {graded / wall:.0f}/s)", flush=True)
                if args.promptfoo:
                    config = promptfoo_config(work, base, items)
                    pf_env = {**env, "OPENAI_API_KEY": "no-key", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
                              "PROMPTFOO_CONFIG_DIR": str(work / "pf-home"), "PROMPTFOO_CACHE_ENABLED": "false"}
                    command = [args.promptfoo, "eval", "-c", str(config), "-j", str(args.concurrency), "--no-cache",
                               "--no-progress-bar", "--no-table", "-o", str(work / "pf.json")]
                    wall, done = timed(command, pf_env, work)
                    results = json.loads((work / "pf.json").read_text(encoding="utf-8")) if (work / "pf.json").exists() else {}
                    stats = (results.get("results") or {}).get("stats") or {}
                    answered = stats.get("successes", 0) + stats.get("failures", 0)
                    if answered != args.submissions:
                        raise SystemExit(f"promptfoo graded {answered} of {args.submissions} (exit {done.returncode}): {done.stderr[-2000:]}")
                    rows["promptfoo"].append(wall)
                    print(f"run {run + 1}: promptfoo {wall:.2f} s ({stats.get('successes')} passed, {answered / wall:.0f}/s)", flush=True)
        print()
        print(f"{args.submissions} submissions, concurrency {args.concurrency}, server answering in {args.delay * 1000:.0f} ms "
              f"(ideal {ideal:.2f} s), {args.runs} run(s), medians:")
        print("| tool | wall (median) | min–max | gradings/s | vs promptfoo |")
        print("|---|---|---|---|---|")
        pf = statistics.median(rows["promptfoo"]) if rows["promptfoo"] else None
        for name, walls in rows.items():
            if not walls:
                continue
            median = statistics.median(walls)
            ratio = f"{median / pf:.2f}x" if pf else "—"
            print(f"| {name} | {median:.2f} s | {min(walls):.2f}–{max(walls):.2f} s | {args.submissions / median:.0f} | {ratio} |")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    if shutil.which("node") is None and "--promptfoo" in sys.argv:
        raise SystemExit("promptfoo needs node")
    main()
