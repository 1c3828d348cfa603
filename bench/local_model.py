"""The built-in offline model (`local/smollm2`): how long it takes to load, how fast it writes, how much memory
it holds, measured through the lab's own path (lab.models.llm.complete, litellm, the in-process server).

    python bench/local_model.py [-n 5] [--tokens 200] [--threads 1 --threads 2]

Needs the `local` extra and `lab local fetch`. Each thread count runs in a process of its own (the runtime reads
its settings once): the import of the runtime, the model's load (the first call's wait), then `-n` streamed
answers of `--tokens` tokens each (the model is told to ignore its end-of-text token, so every answer is as
long), timed from the first word to the last; and the process's resident memory before the model, after it
loaded, and at its peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PROMPT = "Write a long essay about the history of version control systems, from the first tools to today."


def measure(n: int, tokens: int, threads: int) -> dict[str, object]:
    """One process's figures (run as the child)."""
    from lab.models import llm, local
    from lab.settings.calls import CallConfig

    local.THREADS = threads
    llm.load_litellm()  # the lab has litellm loaded before any call: its memory is not the model's
    rss_before = _rss_mib()
    started = time.perf_counter()
    local.load_runtime()  # the runtime's import, timed apart from the model's load
    imported = time.perf_counter() - started
    started = time.perf_counter()
    local.api_base()
    load = time.perf_counter() - started
    rss_loaded = _rss_mib()
    rates, firsts = [], []
    config = CallConfig(local.BUILTIN, timeout=600, params={"temperature": 0, "max_tokens": tokens, "extra_body": {"ignore_eos": True}})
    for _ in range(n):
        seen: list[float] = []
        sent = time.perf_counter()
        completion = llm.complete([{"role": "user", "content": PROMPT}], config, on_delta=lambda d: seen.append(time.perf_counter()))
        done = time.perf_counter()
        firsts.append(seen[0] - sent)
        rates.append((completion.completion_tokens - 1) / (done - seen[0]))
    return {"threads": threads, "import_s": imported, "load_s": load, "first_token_s": statistics.median(firsts),
            "tokens_per_s": statistics.median(rates), "slowest_tokens_per_s": min(rates), "tokens": tokens,
            "rss_before_mib": rss_before, "rss_loaded_mib": rss_loaded, "peak_mib": _peak_mib()}


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="answers per thread count (default 5)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer (default 200)")
    parser.add_argument("--threads", type=int, action="append", help="thread counts to compare (default: the lab's, 1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.n, args.tokens, (args.threads or [1])[0])))
        return 0
    from lab.models import local

    problem = local.problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs")
    for threads in args.threads or [local.THREADS]:
        child = subprocess.run([sys.executable, __file__, "--child", "-n", str(args.n), "--tokens", str(args.tokens),
                                "--threads", str(threads)], capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{r['threads']} thread(s): runtime import {r['import_s']:.2f} s · model load {r['load_s']:.2f} s · first token "
              f"{r['first_token_s']:.2f} s · {r['tokens_per_s']:.0f} tokens/s (slowest {r['slowest_tokens_per_s']:.0f}) · "
              f"memory {r['rss_before_mib']:.0f} MiB before the model, {r['rss_loaded_mib']:.0f} MiB loaded, peak {r['peak_mib']:.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
