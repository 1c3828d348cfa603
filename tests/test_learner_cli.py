"""The learner's probes from the command line: `lab compare`, `lab run` on several models, `lab try`, the
response cache, `--exercises` everywhere, and the defects a new user met (hints up to N, suggestions for a
mistyped command or id, the answer exercise's usage line, a failing score that read as 1.00...)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.store import Store

PAIR = minimal(
    id="t/pair", title="Hello, briefly", track="basics", level=1,
    cases=[{"name": "one", "vars": {"who": "Ana"}}, {"name": "two", "vars": {"who": "Bo"}}],
    rubric={"pass": 1.0, "criteria": [
        {"id": "says-hello", "check": "icontains", "value": "hello", "feedback": "Greet them."},
        {"id": "short", "check": "max-words", "value": 6, "feedback": "Keep it short."},
    ]},
    hints=["Say hello.", "Name them.", "Keep it under six words."],
)
JUDGED = minimal(
    id="t/judged", title="Judged", track="basics", level=1,
    cases=[{"name": "only"}],
    rubric={"pass": 1.0, "criteria": [
        {"id": "kind", "check": "judge", "rubric": "The answer is kind.", "feedback": "Be kinder."},
        {"id": "says-hello", "check": "icontains", "value": "hello"},
    ]},
)
REVIEW = minimal(id="t/review", title="Review", track="basics", level=1, writes="answer",
                 rubric={"criteria": [{"id": "names-the-bug", "check": "icontains", "value": "off by one"}]})
WARM = minimal(id="t/warm", title="Warm", track="basics", level=1, model={"temperature": 0.7},
               rubric={"criteria": [{"id": "says-hello", "check": "icontains", "value": "hello"}]})
LONG = minimal(
    id="t/long", title="Long", track="basics", level=1,
    rubric={"pass": 1.0, "criteria": [{"id": "long-enough", "check": "min-words", "value": 800}]},
    examples=[{"attempt": "Write 800 words.", "outputs": {"only": " ".join(["word"] * 799)}, "expect": "pass"}],
)
FRENCH = minimal(id="t/fr", title="Saluer", track="basics", level=1, lang="fr",
                 rubric={"criteria": [{"id": "bonjour", "check": "icontains", "value": "bonjour"}]})


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "course"
    for name, data in (("pair", PAIR), ("judged", JUDGED), ("review", REVIEW), ("warm", WARM), ("long", LONG), ("fr", FRENCH)):
        write_exercise(root, f"t/{name}.j2", data)
    monkeypatch.setenv("LAB_EXERCISES", str(root))
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], api_base: str, prompt: str, *extra: str, exercise: str = "t/pair") -> dict[str, Any]:
    code, out, err = lab(capsys, "run", exercise, "--model", "openai/echo", "--api-base", api_base, "--prompt", prompt, "--json", *extra)
    assert code in (0, 1), err
    return json.loads(out)


def seed(exercise_id: str, prompt: str, outputs: dict[str, list[str]], model: str = "openai/echo") -> int:
    """An attempt graded by the engine, recorded without a model (what `lab compare` reads)."""
    from lab.format.catalog import load_index
    from lab.practice.attempts import Usage, outcome_dict
    from lab.practice.grading import grade

    exercise = load_index([]).open(exercise_id)
    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track,
                                         model=model, api_base=None, prompt=prompt)
        g = grade(exercise, outputs)
        store.finish_attempt(attempt_id, status="graded", score=g.score, passed=g.passed,
                             result=outcome_dict(exercise, model, g, outputs, Usage(), attempt_id, 0.1))
    return attempt_id


# ---------------------------------------------------------------------- lab compare


def test_compare_puts_the_flipped_criteria_first_then_the_diff_then_the_answers_side_by_side(capsys, course):
    seed("t/pair", "Tell {{ who }} a long story", {"one": ["Once upon a time there was a long story"], "two": ["Hello Bo"]})
    seed("t/pair", "Say hello to {{ who }}", {"one": ["Hello Ana"], "two": ["Hello Bo"]})
    code, out, err = lab(capsys, "compare", "1", "2")
    assert code == 0, err
    assert out.startswith("Comparing #1 · 0.67 not passed · openai/echo with #2 · 1.00 passed · openai/echo\nt/pair\n")
    assert "2 criteria changed their verdict:" in out
    flipped = out.index(" ✗→✓ says-hello")
    assert flipped < out.index(" ✗→✓ short") < out.index("Prompt\n@@ -1 +1 @@\n-Tell {{ who }} a long story\n+Say hello to {{ who }}")
    assert out.index("── one · flipped here: says-hello, short") < out.index("── two ")  # the case that flipped first
    assert "Once upon a time there was a long story" in out and "│ Hello Ana" in out
    assert lab(capsys, "compare", "last")[1] == out  # alone: the newest against the attempt before it


def test_compare_json_and_refusals(capsys, course):
    seed("t/pair", "a", {"one": ["Hello"], "two": ["Hello"]})
    seed("t/pair", "b", {"one": ["no"], "two": ["Hello"]})
    seed("t/review", "x", {"only": ["off by one"]}, model="none (your answer)")
    code, out, _ = lab(capsys, "compare", "1", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["exercise"] == "t/pair" and data["prompt_diff"][-2:] == ["-a", "+b"]
    assert [(c["id"], c["flipped"], c["direction"]) for c in data["criteria"]] == [("says-hello", True, "broke"), ("short", False, "same")]
    assert [c["name"] for c in data["cases"]] == ["one", "two"] and data["cases"][0]["flipped"] == ["says-hello"]
    assert lab(capsys, "compare", "1", "3")[2] == ("lab: #1 is an attempt at t/pair and #3 at t/review: compare two attempts "
                                                  "at the same exercise.\n")
    assert lab(capsys, "compare", "1")[2] == "lab: #1 is the first attempt at t/pair: give a second attempt to compare it with.\n"
    assert lab(capsys, "compare", "2", "2")[2] == "lab: #2 is the same attempt twice: give two different attempts.\n"


# ---------------------------------------------------------------------- lab run on several models


def test_run_on_two_models_streams_each_then_compares_them(capsys, course, cassette, api_base):
    code, out, err = lab(capsys, "run", "t/pair", "--model", "openai/echo", "--model", "openai/scripted", "--api-base", api_base,
                         "--prompt", "Hello {{ who }}")
    assert code == 0, err
    first, second = out.index("══ openai/echo (1 of 2) ══"), out.index("══ openai/scripted (2 of 2) ══")
    assert first < out.index("attempt #1") < second < out.index("attempt #2") < out.index("Comparing #1")
    assert "Comparing #1 · 1.00 passed · openai/echo with #2 · 1.00 passed · openai/scripted" in out
    with Store() as store:
        assert [a.model for a in store.attempts("t/pair")] == ["openai/scripted", "openai/echo"]


def test_run_on_two_models_grades_both_with_the_same_judge_and_prints_one_json(capsys, course, cassette, api_base):
    code, out, err = lab(capsys, "run", "t/judged", "--model", "openai/echo", "--model", "openai/scripted", "--api-base", api_base,
                         "--prompt", "hello", "--json")
    data = json.loads(out)
    assert code in (0, 1), err
    assert data["models"] == ["openai/echo", "openai/scripted"] and [r["model"] for r in data["runs"]] == data["models"]
    assert len(data["comparisons"]) == 1 and data["comparisons"][0]["b"]["model"] == "openai/scripted"
    from lab.practice.judging import stored_exchanges

    with Store() as store:
        judges = {e["model"] for a in store.attempts("t/judged") for e in stored_exchanges(a.result)}
    assert judges == {"openai/echo"}  # one judge for both: a difference in grade is a difference in answers


def test_several_models_are_refused_where_they_make_no_sense(capsys, course):
    code, _, err = lab(capsys, "run", "t/review", "--model", "openai/a", "--model", "openai/b", "--prompt", "x")
    assert code == 2 and "grades your own answer (writes: answer)" in err
    code, _, err = lab(capsys, "check", "--model", "openai/a", "--model", "openai/b")
    assert code == 2 and err == "lab: --model is given 2 times: only `lab run` takes several (one attempt on each).\n"


# ---------------------------------------------------------------------- lab try


def test_try_previews_one_case_and_is_not_an_attempt(capsys, course, cassette, api_base):
    code, out, err = lab(capsys, "try", "t/pair", "--case", "two", "--model", "openai/gpt-4o-mini", "--api-base", api_base,
                         "--prompt", "Hello {{ who }}, nice to meet you today")
    assert code == 0, err
    assert out.startswith("Estimate: 1 call (1 case × 1 sample)")
    assert "── two ──\nHello Bo, nice to meet you today" in out
    assert "Preview on case 'two' (a try: not an attempt, not counted):" in out
    assert " ✓ says-hello" in out and " ✗ short" in out and "→ Keep it short." in out
    assert "1 of 2 criteria pass on this case." in out
    with Store() as store:
        assert store.attempts() == [] and store.progress() == {} and store.tries() == 1
        from lab.practice.spending import spent

        assert spent(store).today_usd > 0  # a priced model: the try's cost is in the day's spending
    assert "No attempts recorded yet" in lab(capsys, "export", "--learner", "ana")[2]


def test_try_json_and_a_mistyped_case(capsys, course, cassette, api_base):
    code, _, err = lab(capsys, "try", "t/pair", "--case", "tw", "--model", "openai/echo", "--api-base", api_base, "--prompt", "x")
    assert code == 2 and err == "lab: t/pair has no case 'tw'; its cases are: one, two. Did you mean 'two'?\n"
    code, out, _ = lab(capsys, "try", "t/pair", "--model", "openai/echo", "--api-base", api_base, "--prompt", "Hello", "--json")
    data = json.loads(out)
    assert (data["case"], data["attempt"], data["output"]) == ("one", False, "Hello")
    assert [c["id"] for c in data["criteria"]] == ["says-hello", "short"] and data["not_previewed"] == []


def test_try_json_on_a_dead_endpoint_says_what_failed_as_run_json_does(capsys, course):
    code, out, err = lab(capsys, "try", "t/pair", "--model", "openai/echo", "--api-base", "http://127.0.0.1:9/v1", "--prompt", "Hi",
                         "--json")
    assert code == 2 and err.endswith("lab: Could not reach http://127.0.0.1:9/v1: is the server running and the address right?\n")
    assert json.loads(out) == {"exercise": "t/pair", "case": "one", "model": "openai/echo", "kind": "connection",
                               "error": "Could not reach http://127.0.0.1:9/v1: is the server running and the address right?"}


# ---------------------------------------------------------------------- the response cache


def test_a_repeated_run_is_answered_from_the_cache_and_no_cache_asks_again(capsys, course, cassette, api_base):
    first = run_json(capsys, api_base, "Hello {{ who }}")
    second = run_json(capsys, api_base, "Hello {{ who }}")
    assert (first["cached"], second["cached"], second["cached_calls"]) == (False, True, 2)
    assert second["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    assert second["cases"] == first["cases"] and second["score"] == first["score"]
    third = run_json(capsys, api_base, "Hello {{ who }}", "--no-cache")
    assert third["cached"] is False and third["usage"]["prompt_tokens"] > 0
    code, out, _ = lab(capsys, "history", "t/pair")
    assert out.count("· cached") == 1 and "cached: answered from the response cache" in out
    assert [r["cached"] for r in json.loads(lab(capsys, "history", "t/pair", "--json")[1])] == [False, True, False]
    code, out, _ = lab(capsys, "run", "t/pair", "--model", "openai/echo", "--api-base", api_base, "--prompt", "Hello {{ who }}")
    assert "Cached: every answer came from the response cache (no call made, nothing charged)." in out
    assert "answered from the response cache: no call, $0.0000 · attempt #4 · --no-cache asks the model again" in out
    assert "graded · score 1.00 · passed · cached" in lab(capsys, "attempt", "last")[1]


def test_judge_calls_are_cached_keyed_on_the_rubric_and_the_output(capsys, course, cassette, api_base):
    first = run_json(capsys, api_base, "hello", exercise="t/judged")
    second = run_json(capsys, api_base, "hello", exercise="t/judged")
    assert first["cached_calls"] == 0 and second["cached"] is True
    assert second["cached_calls"] > 1  # the answer and the judge's verdicts
    assert [c["reason"] for c in second["criteria"]] == [c["reason"] for c in first["criteria"]]


def test_a_warm_exercise_is_never_cached(capsys, course, cassette, api_base):
    runs = [run_json(capsys, api_base, "hello", exercise="t/warm") for _ in range(2)]
    assert [r["cached"] for r in runs] == [False, False]  # above temperature 0, asking again is the point


def test_the_cache_keeps_no_key_and_clears(capsys, course, cassette, api_base, monkeypatch):
    from lab.models.cache import cache_file

    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-stored-7f3a")
    run_json(capsys, api_base, "Hello {{ who }}")
    assert b"sk-never-stored-7f3a" not in b"".join(p.read_bytes() for p in cache_file().parent.glob("responses.db*"))
    code, out, _ = lab(capsys, "cache")
    assert code == 0 and out.startswith("2 cached answer(s), 0.0 MB of 100.0 MB (cache_max_mb) in ")
    assert lab(capsys, "cache", "clear")[1] == ("Forgot 2 cached answer(s) (0.0 MB); the next request of each asks the model again.\n")
    assert json.loads(lab(capsys, "cache", "--json")[1])["entries"] == 0
    assert run_json(capsys, api_base, "Hello {{ who }}")["cached"] is False


def test_a_cache_hit_imports_no_model_library(capsys, course, cassette, api_base):
    run_json(capsys, api_base, "Hello {{ who }}")  # recorded: now cached
    probe = ("import json, sys; from lab.cli import main; code = main(sys.argv[1:]); "
             "print(json.dumps({'code': code, 'litellm': 'litellm' in sys.modules}), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, "run", "t/pair", "--model", "openai/echo", "--api-base", api_base,
                           "--prompt", "Hello {{ who }}", "--json"], capture_output=True, text=True, timeout=120, env=os.environ)
    assert json.loads(done.stdout)["cached"] is True
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"code": 0, "litellm": False}


def test_a_hit_is_answered_while_another_process_writes_the_cache(tmp_path):
    """Noting when an answer was last used is a write; it waited out the 30 s busy timeout behind another
    process's transaction and then turned the hit into a miss. It is a hint for eviction: it never waits."""
    import sqlite3

    from lab.models.cache import CachedAnswer, ResponseCache

    cache = ResponseCache(tmp_path / "responses.db", max_bytes=1_000_000)
    cache.put("k", "m", CachedAnswer("kept", "stop", 3, 1))
    other = sqlite3.connect(tmp_path / "responses.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a classmate's `lab grade --cache` writing
    try:
        assert cache.get("k") == CachedAnswer("kept", "stop", 3, 1)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_new_cache_another_process_is_writing_is_waited_for_never_removed(tmp_path):
    """Two first runs race to set the cache up; the loser's switch to WAL found the file locked, read that as a
    damaged file and deleted it under the other process. It now waits its turn, on the same file."""
    import sqlite3
    import threading

    from lab.models.cache import CachedAnswer, ResponseCache

    path = tmp_path / "responses.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE placeholder (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO placeholder VALUES (1)")  # the other process, mid-write
    inode = path.stat().st_ino
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    try:
        cache = ResponseCache(path, max_bytes=1_000_000)
    finally:
        other.close()
    cache.put("k", "m", CachedAnswer("kept", "stop", 3, 1))
    assert cache.get("k") == CachedAnswer("kept", "stop", 3, 1) and path.stat().st_ino == inode


def test_the_cache_keeps_to_its_size_bound_dropping_the_least_recently_used(tmp_path):
    from lab.models.cache import ROW_OVERHEAD, CachedAnswer, ResponseCache

    cache = ResponseCache(tmp_path / "responses.db", max_bytes=3 * (100 + len("[]") + ROW_OVERHEAD))  # text, no tool calls, the row
    for key in ("a", "b", "c"):
        cache.put(key, "m", CachedAnswer("x" * 100, "stop", 1, 1))
    assert cache.get("a") is not None  # used: b is now the least recently used
    cache.put("d", "m", CachedAnswer("y" * 100, "stop", 1, 1))
    assert [k for k in "abcd" if cache.get(k) is not None] == ["a", "c", "d"]
    assert cache.stats().bytes <= cache.max_bytes
    cache.put("huge", "m", CachedAnswer("z" * 10_000, None, 1, 1))  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.get("d") is not None


def test_request_keys_leave_credentials_out_and_tell_samples_apart():
    from lab.models.cache import cacheable, request_key
    from lab.settings.calls import CallConfig

    messages = [{"role": "user", "content": "hi"}]
    base = CallConfig("openai/m", "http://user:pw@127.0.0.1:8000/v1/?key=abc", params={"temperature": 0}, cache="use")
    other_key = CallConfig("openai/m", "http://127.0.0.1:8000/v1", params={"temperature": 0, "api_key": "sk-x"}, cache="use")
    assert request_key(messages, base) == request_key(messages, other_key)
    assert request_key(messages, base, 0) != request_key(messages, base, 1)
    # a setting whose name holds a credential's word is still a setting: an answer cut at 2 tokens is not one allowed 500
    short = CallConfig("openai/m", params={"temperature": 0, "max_tokens": 2}, cache="use")
    assert request_key(messages, short) != request_key(messages, CallConfig("openai/m", params={"temperature": 0, "max_tokens": 500}, cache="use"))
    assert request_key(messages, short) == request_key(messages, CallConfig(
        "openai/m", params={"temperature": 0, "max_tokens": 2, "aws_secret_access_key": "x", "extra_headers": {"a": "b"}}, cache="use"))
    assert cacheable(base) and not cacheable(CallConfig("openai/m", params={"temperature": 0.2}, cache="use"))
    assert not cacheable(CallConfig("openai/m", params={"temperature": 0}, cache="off"))


@pytest.mark.live
def test_lab_grade_uses_the_cache_only_with_cache(capsys, tmp_path, course, live_provider):
    hand_in = tmp_path / "class.csv"
    hand_in.write_text("learner,exercise,prompt\nana,t/pair,Hello {{ who }}\n", encoding="utf-8")

    def grade(out: str, *extra: str) -> int:
        before = len(live_provider.requests)
        code = main(["grade", str(hand_in), "--out", str(tmp_path / out), "--model", "openai/echo", "--api-base", live_provider.url,
                     *extra])
        capsys.readouterr()
        assert code == 0
        return len(live_provider.requests) - before

    assert grade("a") == 2 and grade("b") == 2  # a class is graded afresh by default
    assert grade("c", "--cache") == 2 and grade("d", "--cache") == 0


# ---------------------------------------------------------------------- --exercises, suggestions, hints


def test_every_command_takes_exercises(course, tmp_path):
    import argparse

    from lab.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    lacking = [name for name, parser in sub.choices.items()
               if not any("--exercises" in a.option_strings for a in parser._actions)]
    assert lacking == []


def test_export_takes_exercises_and_a_short_id(capsys, course, tmp_path):
    other = tmp_path / "other"
    write_exercise(other, "x/solo.j2", minimal(id="x/solo", title="Solo"))
    seed("t/pair", "Hello", {"one": ["Hello"], "two": ["Hello"]})
    code, out, err = lab(capsys, "export", "--exercises", str(other), "--learner", "ana", "--exercise", "pair")
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["exercise"] == "t/pair"


def test_hint_n_prints_every_hint_up_to_n(capsys, course):
    code, out, _ = lab(capsys, "hint", "t/pair", "2")
    assert code == 0
    assert out.startswith("Hint 1/3: Say hello.\nHint 2/3: Name them.\n2 of 3 hint(s) revealed;")
    assert lab(capsys, "hint", "t/pair")[1].startswith("Hint 3/3: Keep it under six words.\n3 of 3")


def test_a_mistyped_command_id_track_or_attempt_gets_a_suggestion(capsys, course):
    assert lab(capsys, "shw", "t/pair") == (2, "", "lab: no command 'shw'. Did you mean 'show'? `lab --help` lists them all.\n")
    assert lab(capsys, "hitn")[2] == "lab: no command 'hitn'. Did you mean 'hint' or 'history'? `lab --help` lists them all.\n"
    # a word that would drive the terminal (a title escape) is shown escaped, never sent to it
    assert lab(capsys, "gr\x1b]0;pwned\x07ade")[2] == ("lab: no command 'gr\\x1b]0;pwned\\x07ade'. Did you mean 'grade'? "
                                                      "`lab --help` lists them all.\n")
    assert lab(capsys, "show", "pari")[2] == "lab: No exercise 'pari'. Did you mean t/pair?\n"
    assert lab(capsys, "show", "t/piar")[2] == "lab: No exercise 't/piar'. Did you mean t/pair?\n"
    assert "Did you mean 'basics'?" in lab(capsys, "list", "--track", "basic")[2]
    assert lab(capsys, "attempt", "7")[2] == "lab: No attempt #7: there are no attempts yet.\n"
    seed("t/pair", "Hello", {"one": ["Hello"], "two": ["Hello"]})
    assert lab(capsys, "attempt", "7")[2].startswith("lab: No attempt #7: attempts go from #1 to #1 (`last` is the newest;")


# ---------------------------------------------------------------------- the defects' other faces


def test_an_answer_is_reported_without_rows_of_zero_tokens(capsys, course):
    code, out, _ = lab(capsys, "run", "t/review", "--prompt", "There is an off by one error.")
    assert code == 0
    assert "graded as written: no model was called · attempt #1" in out and "0 prompt + 0 completion" not in out


def test_a_failing_score_never_prints_as_one(capsys, course):
    code, out, _ = lab(capsys, "check", str(course / "t" / "long.j2"))
    assert code == 1
    assert "expected pass, graded fail (score 0.99)" in out and "score 1.00" not in out
    assert "long-enough (0.99 ×1)" in out


def test_lab_attempt_speaks_the_exercises_language(capsys, course):
    seed("t/fr", "Dites bonjour", {"only": ["bonjour"]})
    code, out, _ = lab(capsys, "attempt", "last")
    assert code == 0
    assert "## Sortie : only" in out and "## Note" in out and "## Prompt" in out
    assert "jetons de prompt" in out and "sample(s)" not in out and "tokens ·" not in out
