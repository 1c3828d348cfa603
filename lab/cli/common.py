"""What every `lab` command shares: exit codes, the exercise and model options, loading, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_NOT_PASSED, EXIT_BAD = 0, 1, 2


def exercise_dirs_option(dest: str) -> argparse.ArgumentParser:
    import argparse

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--exercises", dest=dest, action="append", default=[], metavar="DIR",
                         help="an extra exercise folder, searched first (repeatable)")
    return options


def model_options() -> argparse.ArgumentParser:
    import argparse

    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", action="append", metavar="MODEL",
                       help="litellm model name, e.g. openai/gpt-4o-mini (default: LAB_MODEL, then the config file)")
    model.add_argument("--api-base", help="base URL of an OpenAI-compatible server (default: LAB_API_BASE)")
    model.add_argument("--judge-model", help="model for judge criteria (default: LAB_JUDGE_MODEL, then the attempt's model)")
    model.add_argument("--judge-api-base", metavar="URL",
                       help="base URL of the judge's server, or 'none' for a hosted API (default: LAB_JUDGE_API_BASE, "
                            "then --api-base when the judge has the attempt's provider)")
    model.add_argument("--timeout", type=float, help="seconds to wait for the model (default: LAB_TIMEOUT or 60)")
    return model


def load_exercises(args: argparse.Namespace) -> Any:
    """The catalogue index (front matter of every exercise); `.open(id)` fully loads one."""
    from lab.format.catalog import load_index

    return load_index(args.exercises)


def load_checked_exercises(args: argparse.Namespace) -> tuple[Any, int]:
    """The catalogue with the changed files of one's own folders fully checked (a broken one leaves the listing,
    counted as the lab counts it), and how many were too many to check now."""
    catalog = load_exercises(args)
    return catalog, catalog.check_unchecked()


def warn_problems(catalog: Any, unchecked: int = 0) -> None:
    """The files that could not be loaded, counted as the lab's catalog counts them (one per file), the first
    problem, and the exercises not checked yet."""
    if catalog.broken_files or catalog.problems:
        n = len(catalog.broken_files)
        first = catalog.problems[0] if catalog.problems else None
        what = f"{n} exercise file(s) could not be loaded" if n else "some exercise files have problems"
        print(f"lab: {what}; `lab validate` lists every problem.", file=sys.stderr)
        if first is not None:
            print(f"  first: {str(first).splitlines()[0]}", file=sys.stderr)
    if unchecked:
        print(f"lab: {unchecked} exercise file(s) of your own folders are not checked yet (listed from their front matter); "
              "`lab validate` checks them all (the lab does too, in the background).", file=sys.stderr)


def open_store() -> Any:
    from lab.practice.store import Store

    return Store()


def print_json(data: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout  # looked up per call: a default bound at import misses a replaced stdout
    json.dump(data, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


NO_MODEL = ("No model chosen: pass --model (e.g. --model openai/gpt-4o-mini, or --model openai/NAME "
            "--api-base http://127.0.0.1:11434/v1 for a local server, or --model local/smollm2 for the built-in offline model "
            "after `lab local fetch`), set LAB_MODEL, or pick one in the lab.")


def models_of(args: argparse.Namespace) -> list[str]:
    """The models given with --model, in order (several only for `lab run`, which makes an attempt on each)."""
    return list(args.model or [])


def settings_from(args: argparse.Namespace, model: str | None = None) -> Any:
    """The settings with the command's flags over them; `model` replaces --model (one of several)."""
    from lab.errors import LabError
    from lab.settings.config import load_settings, settings_warnings

    given = models_of(args)
    if model is None:
        if len(given) > 1:
            raise LabError(f"--model is given {len(given)} times: only `lab run` takes several (one attempt on each).")
        model = given[0] if given else None
    overrides = dict(model=model, api_base=args.api_base, judge_model=args.judge_model,
                     judge_api_base=getattr(args, "judge_api_base", None), timeout=args.timeout)
    settings = load_settings(**overrides)
    for warning in settings_warnings(**overrides):
        print(f"lab: warning: {warning}", file=sys.stderr)
    return settings


def cache_mode(args: argparse.Namespace) -> str | None:
    """How the command's model calls use the response cache, when a flag says (`--no-cache`: ask again and
    keep the new answer; `lab grade --cache`: use it); None leaves the setting (`cache`, LAB_CACHE)."""
    if getattr(args, "no_cache", False):
        return "refresh"
    if hasattr(args, "use_cache"):  # `lab grade`: a class's grading is fresh unless asked
        return "use" if args.use_cache else "off"
    return None


def with_cache_mode(config: Any, args: argparse.Namespace) -> Any:
    """`config` with the cache use the command's flags ask for."""
    from dataclasses import replace

    mode = cache_mode(args)
    return config if config is None or mode is None else replace(config, cache=mode)


def call_configs(args: argparse.Namespace, exercise: Any = None, model: str | None = None) -> tuple[Any, Any, Any]:
    """Settings, the learner's call and the judge's. A `writes: answer` exercise needs no model of
    its own, and a judge only when one of its criteria asks one. `model`: one of several --model."""
    from lab.errors import LabError

    settings = settings_from(args, model)
    config = with_cache_mode(settings.call_config(), args)
    judge = with_cache_mode(settings.judge_call_config(), args)
    if config is None and exercise is not None and exercise.writes == "answer":
        from lab.practice.attempts import needs_judge

        if needs_judge(exercise, only_required=True) and judge is None:
            raise LabError("This exercise grades your answer with a judge model: pass --judge-model M (or --model M), "
                           "or set LAB_JUDGE_MODEL.")
        return settings, None, judge
    if config is None:
        raise LabError(NO_MODEL)
    return settings, config, judge


def cache_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true",
                        help="ask the model again even when the response cache holds this request's answer (the new answer is kept)")


def text_options(parser: argparse.ArgumentParser) -> None:
    """`--prompt`, `--system`, `--prefill` and their `-file` forms (`lab run`). `--prompt` may be given once
    per message for an exercise whose learner writes the conversation (`writes: turns`)."""
    parser.add_argument("--prompt", dest="prompts", action="append", type=lambda v: ("text", v), metavar="TEXT",
                        help="your prompt as text (for `writes: turns`, once per message; for `writes: system` or `answer`, that text)")
    parser.add_argument("--prompt-file", dest="prompts", action="append", type=lambda v: ("file", v), metavar="F",
                        help="read it from a file, or '-' for standard input (turns: separated by lines holding only ---)")
    parser.add_argument("--system", metavar="TEXT", help="your system prompt as text")
    parser.add_argument("--system-file", metavar="F", help="read your system prompt from a file, or '-' for standard input")
    parser.add_argument("--prefill", metavar="TEXT", help="your prefill: the start of the model's answer, which it continues")
    parser.add_argument("--prefill-file", metavar="F", help="read your prefill from a file, or '-' for standard input")


def _read_file(name: str) -> str:
    from lab.errors import LabError

    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"Cannot read {name}: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:
        raise LabError(f"{name} is not UTF-8 text.") from exc


def _one_of(text: str | None, file: str | None, flag: str) -> str | None:
    from lab.errors import LabError

    if text is not None and file is not None:
        raise LabError(f"Give {flag} or {flag}-file, not both.")
    return text if text is not None else _read_file(file) if file is not None else None


def _flags(name: str, alone: bool) -> str:
    if name == "turns":
        return "--prompt once per message"
    if name == "answer" or name == "prompt":
        return "--prompt"
    return f"--{name}" + (" (or --prompt)" if name == "system" and alone else "")


def read_texts(args: argparse.Namespace, exercise: Any) -> dict[str, Any]:
    """The learner's texts from `--prompt`, `--system`, `--prefill` (and their files), by the names the exercise
    has the learner write; a missing one or one the exercise does not take is named with its flag."""
    from lab.errors import LabError
    from lab.format.conversation import split_turns

    names = exercise.texts
    alone = len(names) == 1
    if [value for kind, value in (args.prompts or []) if kind == "file"].count("-") > 1:
        raise LabError("Standard input can be read once: give '-' to one --prompt-file only.")
    prompts = [value if kind == "text" else _read_file(value) for kind, value in (args.prompts or [])]
    given: dict[str, Any] = {}
    if prompts:
        if "turns" in names:
            given["turns"] = [turn for text in prompts for turn in (split_turns(text) or [text])]
        elif len(prompts) > 1:
            raise LabError("--prompt is given once: several are the messages of a conversation you write, "
                           "and this exercise has you write " + " and ".join(_flags(n, alone) for n in names) + ".")
        elif "prompt" in names:
            given["prompt"] = prompts[0]
        elif alone and names[0] in ("system", "answer"):
            given[names[0]] = prompts[0]  # `--prompt` has always carried the one text, whatever its name
        else:
            raise LabError(f"This exercise does not take --prompt: it needs {' and '.join(_flags(n, alone) for n in names)}.")
    for name in ("system", "prefill"):
        value = _one_of(getattr(args, name), getattr(args, f"{name}_file"), f"--{name}")
        if value is None:
            continue
        if name not in names:
            raise LabError(f"This exercise does not take --{name}: it needs {' and '.join(_flags(n, alone) for n in names)}.")
        given[name] = value
    missing = [n for n in names if n not in given]
    if missing and not given:
        raise LabError(f"Give your text: this exercise needs {' and '.join(_flags(n, alone) for n in missing)}.")
    if missing:
        raise LabError(f"This exercise also needs {' and '.join(_flags(n, alone) for n in missing)}.")
    return given


def last_attempt_id(store: Any, exercise_id: str) -> int | None:
    attempts = store.attempts(exercise_id, limit=1)
    return attempts[0].id if attempts else None
