"""How long the cost estimate takes: the first one (which reads litellm's price table) and then each
one the lab makes while the learner types (0.3 s after the last key, in a thread worker).

    python bench/estimate_speed.py [-n 200] [--exercise prompt-engineering/delimiters] [--model openai/gpt-4o-mini]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="estimates after the first (default 200)")
    parser.add_argument("--exercise", default="prompt-engineering/delimiters")
    parser.add_argument("--model", default="openai/gpt-4o-mini")
    args = parser.parse_args()

    from lab.format.catalog import load_index
    from lab.practice.spending import estimate_attempt

    exercise = load_index([]).open(args.exercise)
    text = "Summarise the email between the tags in one sentence. <email>{{ email }}</email> " * 5
    started = time.perf_counter()
    first = estimate_attempt(exercise, text, model=args.model)
    first_s = time.perf_counter() - started
    times = []
    for i in range(args.n):
        started = time.perf_counter()
        estimate_attempt(exercise, text + str(i), model=args.model)
        times.append(time.perf_counter() - started)
    print(first.summary())
    print(f"first estimate (reads the price table): {first_s * 1000:.0f} ms")
    print(f"each after: median {statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms over {args.n}")
    print(f"litellm imported: {'litellm' in sys.modules}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
