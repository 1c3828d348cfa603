"""Finding exercise files and loading each into an `Exercise`, or into problems that say how to fix it.

A broken file never stops the others: `load_catalog` collects every problem and goes on.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import os
import re
import stat as stat_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from jinja2.exceptions import TemplateError
from pydantic import BaseModel, ValidationError

from lab.errors import ExerciseError, LabError, Problem
from lab.format import arenas, shapes, yamlines
from lab.format.curriculum import curriculum_order
from lab.format.exercise import BLOCKS, ID_PATTERN, LANG_PATTERN, NAME_PATTERN, TOOL_NAME_PATTERN, Exercise, FrontMatter, block_variables
from lab.format.listing import MAX_FILE_BYTES, claimed, closest_ids, exercise_roots, inside, points_outside, reachable, regular_file, search
from lab.format.templating import (
    CompiledExercise,
    SplitFile,
    UnclosedFrontMatter,
    compile_exercise,
    describe_template_error,
    error_line,
    evaluate,
    render_string,
    root_environment,
    split_front_matter,
)
from lab.settings import paths

GROUP = "*"  # the params key of a group-scope check (it sees every case at once)


@dataclass
class Catalog:
    exercises: list[Exercise]
    problems: list[Problem]
    roots: list[Path]
    broken_files: list[Path] = field(default_factory=list)
    file_problems: dict[Path, list[Problem]] = field(default_factory=dict)  # each broken file's own problems

    def get(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        broken = [p for p in self.problems if _id_for(p.path, self.roots) == exercise_id]
        if broken:
            raise LabError(f"Exercise '{exercise_id}' could not be loaded:\n" + "\n".join(str(p) for p in broken))
        close = closest_ids(exercise_id, [e.id for e in self.exercises])
        hint = f" Did you mean {', '.join(close)}?" if close else " `lab list` shows them all."
        raise LabError(f"No exercise '{exercise_id}'.{hint}")

    def tracks(self) -> list[str]:
        return sorted({e.track for e in self.exercises})


def _id_for(path: Path, roots: Iterable[Path]) -> str | None:
    for root in roots:
        try:
            return Path(os.path.realpath(path)).relative_to(root).with_suffix("").as_posix()
        except ValueError:
            continue
    return None


def load_catalog(extra_roots: Sequence[str | Path] = ()) -> Catalog:
    """Load every exercise of every root. Earlier roots win when two files claim one id."""
    roots = exercise_roots(extra_roots)
    exercises: dict[str, Exercise] = {}
    claims: dict[str, list[Path]] = {}
    problems: list[Problem] = []
    broken: list[Path] = []
    by_file: dict[Path, list[Problem]] = {}
    for root in roots:
        if not root.is_dir():
            if root != paths.bundled_exercises_dir().resolve():
                problems.append(Problem(root, None, "exercise folder not found", "check the path given to --exercises or LAB_EXERCISES"))
            continue
        files, unsearchable = search(root)
        problems.extend(unsearchable)
        broken.extend(p.path for p in unsearchable)
        for path in files:
            try:
                exercise = load_exercise(path, root)
            except ExerciseError as exc:
                problems.extend(exc.problems)
                broken.append(path)
                by_file[path.resolve()] = exc.problems
                continue
            claims.setdefault(exercise.id, []).append(exercise.path)
            exercises.setdefault(exercise.id, exercise)
    problems += [claimed(i, files, files[1]) for i, files in claims.items() if len(files) > 1]
    problems += arenas.arena_problems(exercises.values())
    ordered = sorted(exercises.values(), key=lambda e: curriculum_order(e.track, e.level, e.id))
    return Catalog(ordered, problems, roots, broken, by_file)


def _duplicate_ids(loaded: Sequence[Exercise], known: Sequence[Path]) -> list[Problem]:
    """For `lab validate PATH`: each id that a loaded file shares with another file of any exercise root
    (read from front matter alone, as `lab list` does), naming every file that claims it."""
    from lab.format.listing import read_listing

    if not loaded:
        return []
    claims: dict[str, list[Path]] = {}
    for root in known:
        if not root.is_dir():
            continue
        for path in search(root)[0]:
            listing = read_listing(path, root)
            if listing is not None:
                claims.setdefault(listing["id"], []).append(Path(os.path.realpath(path)))
    problems = []
    for exercise in loaded:
        files = list(dict.fromkeys(claims.get(exercise.id, []) + [exercise.path]))
        files += [e.path for e in loaded if e.id == exercise.id and e.path not in files]
        if len(files) > 1 and exercise.path == next(e.path for e in loaded if e.id == exercise.id):
            problems.append(claimed(exercise.id, files, exercise.path))
    return problems


def load_paths(targets: Sequence[str | Path], extra_roots: Sequence[str | Path] = ()) -> Catalog:
    """Load the exercises named by files or folders (for `lab validate` and `lab check`)."""
    if not targets:
        return load_catalog(extra_roots)
    known = exercise_roots(extra_roots)
    exercises: list[Exercise] = []
    problems: list[Problem] = []
    broken: list[Path] = []
    by_file: dict[Path, list[Problem]] = {}
    roots: list[Path] = []
    for target in targets:
        given = Path(target).expanduser()
        target = Path(os.path.realpath(given))  # never raises: Path.resolve() does on a symlink loop
        if not reachable(given, problems):
            broken.append(given)
            continue
        if target.is_dir():
            root = _root_of(target, known) or target
            files, unsearchable = search(target, within=root)
            problems.extend(unsearchable)
            broken.extend(p.path for p in unsearchable)
        elif target.is_file():
            # a link is judged by where it lies: one in an exercise folder (or, outside every root, in its
            # own folder) that points elsewhere is not read
            placed = Path(os.path.realpath(given.parent)) / given.name
            fence = _root_of(placed, known) or placed.parent
            if not inside(str(target), str(fence)):
                problems.append(points_outside(given, str(target)))
                broken.append(given)
                continue
            files, root = [target], _root_of(target, known) or target.parent
        elif target.exists():
            regular_file(target, problems)
            broken.append(given)
            continue
        else:
            problems.append(Problem(target, None, "no such file or folder", "check the path"))
            continue
        roots.append(root)
        for path in files:
            try:
                exercises.append(load_exercise(path, root))
            except ExerciseError as exc:
                problems.extend(exc.problems)
                broken.append(path)
                by_file[path.resolve()] = exc.problems
    problems += _duplicate_ids(exercises, known)
    problems += _arena_problems(exercises, known)
    return Catalog(exercises, problems, roots, broken, by_file)


def _arena_problems(loaded: Sequence[Exercise], known: Sequence[Path]) -> list[Problem]:
    """For `lab validate PATH`: the arenas the loaded files join, with their other members found in every
    exercise root (by the `arena` key of their front matter alone, then loaded). An arena with a member
    that does not load is left to that file's own validation."""
    from lab.format.listing import read_arena

    names = {e.arena for e in loaded if e.arena}
    if not names:
        return []
    members: dict[str, Exercise] = {e.id: e for e in loaded}
    broken: set[str] = set()
    have = {e.path for e in loaded}
    for root in known:
        if not root.is_dir():
            continue
        for path in search(root)[0]:
            real = Path(os.path.realpath(path))
            if real in have:
                continue
            arena = read_arena(path)
            if arena not in names:
                continue
            have.add(real)
            try:
                exercise = load_exercise(path, root)
            except ExerciseError:
                broken.add(arena)
                continue
            members.setdefault(exercise.id, exercise)  # an earlier root's file of the same id wins, as everywhere
    return [p for p in arenas.arena_problems([e for e in members.values() if e.arena not in broken], on=[e.path for e in loaded])]


def _root_of(path: Path, roots: Iterable[Path]) -> Path | None:
    for root in roots:
        if path == root or root in path.parents:
            return root
    return None


# ---------------------------------------------------------------- one file


class _Collector:
    def __init__(self, path: Path, lines: dict[Any, int] | None = None):
        self.path = path
        self.lines = lines or {}
        self.problems: list[Problem] = []

    def at(self, loc: Sequence[Any], message: str, fix: str = "") -> None:
        line = yamlines.line_of(self.lines, tuple(loc), 1) if self.lines else None
        self.problems.append(Problem(self.path, line, message, fix))

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ExerciseError(self.problems)


def _read_front_matter(path: Path, root: Path) -> tuple[bytes, SplitFile, dict[str, Any], _Collector]:
    """Read, split and parse a file's front matter (with `id` and `track` defaulted from its path)."""
    out = _Collector(path)
    try:
        if not stat_module.S_ISREG(os.stat(path).st_mode):
            raise ExerciseError([Problem(path, None, "not a plain file (a named pipe, socket or device): it cannot be read as an exercise",
                                         "remove it from the exercise folder")])
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise ExerciseError([Problem(path, None, f"the file is {size / 1024 / 1024:.1f} MB; an exercise file is at most {MAX_FILE_BYTES // 1024 // 1024} MB",
                                         "trim the data it carries: a few cases with short texts teach as well")])
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")  # editors on Windows may start the file with a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        out.add(Problem(path, line, f"the file is not UTF-8 text (byte {exc.start} cannot be read)", "save it as UTF-8 (most editors offer the encoding in 'Save as')"))
        out.raise_if_any()
        raise AssertionError  # unreachable
    except OSError as exc:
        raise ExerciseError([Problem(path, None, f"cannot read the file: {exc.strerror}", "check its permissions")]) from exc

    try:
        split = split_front_matter(text)
    except UnclosedFrontMatter:
        raise ExerciseError([Problem(path, 1, "the front matter is never closed", "add a line '---' after the front matter")]) from None
    if split.front_matter is None:
        raise ExerciseError([Problem(path, 1, "no front matter: an exercise file starts with a line '---'",
                                     "start the file with '---', the YAML keys (format: 1, title, level, cases, rubric), then '---'")])
    try:
        data, lines = yamlines.load(split.front_matter, split.front_matter_line)
    except yamlines.YamlProblem as exc:
        what = "front matter is too large to read" if exc.limit else "front matter is not valid YAML"
        raise ExerciseError([Problem(path, exc.line, f"{what}: {exc}", exc.fix or
                                     "check indentation and quoting on that line (quote values containing ': ' or starting with '{')")]) from None
    out.lines = lines
    if not isinstance(data, dict):
        raise ExerciseError([Problem(path, 2, "the front matter must be YAML keys and values", "write it as `key: value` lines")])

    rel_name = path.relative_to(root).as_posix()
    data.setdefault("id", rel_name.removesuffix(".j2"))
    if "track" not in data:
        parts = Path(rel_name).parts
        data["track"] = parts[0] if len(parts) > 1 else "general"
    return raw, split, data, out


def load_exercise(path: Path, root: Path) -> Exercise:
    """Load and fully validate one exercise file; raises `ExerciseError` listing every problem."""
    given = path
    path, root = Path(os.path.realpath(path)), Path(os.path.realpath(root))  # resolve() raises on a symlink loop
    if not inside(str(path), str(root)):
        raise ExerciseError([points_outside(Path(given), str(path))])
    raw, split, data, out = _read_front_matter(path, root)
    rel_name = path.relative_to(root).as_posix()

    meta = _validate_front_matter(data, out)
    compiled = _compile(root, rel_name, path, out)
    # every kind of problem at once: with the front matter's faulty keys set aside (`partial`), or a template that
    # does not compile, the checks that do not depend on what is missing still run, so one `lab validate` says it all
    checked, partial = (meta, frozenset[str]()) if meta is not None else _front_matter_without_faults(data)
    if checked is not None:
        # a check that reads a key set aside would only repeat its problem in other words: it waits for the fix
        depends_on_cases = bool(partial & {"vars", "cases"})
        shaped = shapes.check_writes(checked, out) if not partial else False
        if compiled is not None:
            if "writes" not in partial:
                blocks = _check_blocks(checked, compiled, out, template_line=split.template_line)
            if not depends_on_cases:
                _check_renders(checked, compiled, out)
                if shaped:
                    shapes.check_blocks(checked, blocks, out)
                    shapes.check_turns(checked, compiled, root, out)
                    if not out.problems:  # a block that does not render has been reported; its texts cannot be traced
                        shapes.check_texts_sent(checked, compiled, root, out)
                    shapes.check_reads(checked, blocks, out)
                    shapes.check_tools(checked, blocks, root, out)
                    arenas.check_file(checked, compiled, root, out)
        if not depends_on_cases and "rubric" not in partial:
            params = _check_rubric(checked, root, out)
        if not depends_on_cases and "examples" not in partial:
            _check_examples(checked, out, shaped)
    if meta is None or compiled is None:
        out.raise_if_any()
        raise AssertionError  # unreachable: a None above always comes with a problem
    out.raise_if_any()

    digest = hashlib.sha256(raw)
    for layout in compiled.chain[1:]:
        digest.update(compiled.env.loader.path_of(layout).read_bytes())
    return Exercise(
        id=meta.id or rel_name.removesuffix(".j2"),
        path=path,
        root=root,
        meta=meta,
        content_hash=digest.hexdigest()[:16],
        blocks=blocks,
        template_name=rel_name,
        criterion_params=params,
        compiled=compiled,
        lines={key: yamlines.line_of(out.lines, (key,), 1) for key in ("arena", "role", "writes", "pairing") if (key,) in out.lines},
    )


_FIXES = {
    "missing": "add it (docs/authoring.md lists every key)",
    "extra_forbidden": "remove it or fix its spelling (docs/authoring.md lists every key)",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case letters, digits, '-', '_' and '.' (and '/' in ids)",
    "too_short": "add at least one entry",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
}


# what each pattern allows, in words: one fix for every pattern told a tool's author to use '.', which a tool name refuses
_PATTERN_FIXES = {
    ID_PATTERN: "use lower-case letters, digits, '-', '_' and '.', with '/' between the parts of an id",
    NAME_PATTERN: "use letters, digits, '-', '_' and '.', starting with a letter or digit",
    TOOL_NAME_PATTERN: "use letters, digits, '-' and '_' (at most 64), as APIs take a function's name",
    LANG_PATTERN: "use a language tag such as en, fr or fr-CA",
}


def _validate_front_matter(data: dict[str, Any], out: _Collector) -> FrontMatter | None:
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = loc[-1] if loc else ""
            where = ".".join(str(p) for p in loc)
            if error["type"] == "missing":
                message = f"'{where}' is required"
            elif error["type"] == "extra_forbidden":
                known = _known_keys(loc[:-1])
                close = difflib.get_close_matches(str(key), known, n=1)
                message = f"unknown key '{where}'" + (f" (did you mean '{close[0]}'?)" if close else "")
            elif error["type"] == "string_type" and isinstance(error.get("input"), dict):
                message = f"'{where}' should be text, but YAML read it as a key and value (a ': ' inside unquoted text does that)"
            else:
                message = f"'{where}': {error['msg'].removeprefix('Value error, ')}"
            if error["type"] == "string_type" and isinstance(error.get("input"), dict):
                out.at(loc, message, "put the whole text in quotes, or use a block scalar (`key: >-` then the text indented on the next lines)")
                continue
            if where == "format" and error["type"] == "missing":
                message = "'format' is required: the first key of the front matter says which format the file is written in"
                fix = "add `format: 1` as the first line of the front matter"
            elif where == "format":
                message = f"unknown format version {error.get('input')!r}: this Prompt Lab reads `format: 1`"
                fix = "set `format: 1`, or upgrade Prompt Lab if the file was written for a newer format"
            elif error["type"] == "string_pattern_mismatch":
                fix = _PATTERN_FIXES.get(str((error.get("ctx") or {}).get("pattern")), _FIXES["string_pattern_mismatch"])
            else:
                fix = _FIXES.get(error["type"], "see docs/authoring.md for this key")
            out.at(loc, message, fix)
        return None


def _front_matter_without_faults(data: dict[str, Any]) -> tuple[FrontMatter | None, frozenset[str]]:
    """The front matter validated with each faulty key left out (its problem is reported already), and the
    top-level keys that lost something; None when what is left is not a front matter (a required key is
    missing or wrong). Lets the other checks run on a file whose front matter has a misspelt key."""
    import copy

    trimmed = copy.deepcopy(data)
    touched: set[str] = set()
    for _ in range(3):
        try:
            return FrontMatter.model_validate(trimmed), frozenset(touched)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                if not loc or error["type"] == "missing" or not _drop(trimmed, loc):
                    return None, frozenset(touched)
                touched.add(str(loc[0]))
    return None, frozenset(touched)


def _drop(data: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the key at `loc` (a pydantic error location) from nested dicts and lists; False when it is not there."""
    for part in loc[:-1]:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    last = loc[-1]
    if isinstance(data, dict) and last in data:
        del data[last]
        return True
    return False


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    from lab.format.exercise import Case, Example, Pairing, Rubric, Turn

    model: type[BaseModel] = FrontMatter
    from lab.format.exercise import CallSettings, ExampleCall, Tool

    names = {"rubric": Rubric, "cases": Case, "examples": Example, "turns": Turn, "tools": Tool, "model": CallSettings, "pairing": Pairing}
    if len(loc) >= 2 and loc[0] == "examples" and "calls" in loc:
        names["calls"] = ExampleCall
    for part in loc:
        if isinstance(part, str) and part in names:
            model = names[part]
    return [f.alias or n for n, f in model.model_fields.items()]


def _compile(root: Path, rel_name: str, path: Path, out: _Collector) -> CompiledExercise | None:
    try:
        return compile_exercise(root, rel_name)
    except (TemplateError, RecursionError) as exc:  # RecursionError: expressions nested thousands deep
        file, line = error_line(exc)
        message, fix = describe_template_error(exc, root)
        out.add(Problem(Path(file) if file else path, line, message, fix))
        return None


def _check_blocks(meta: FrontMatter, compiled: CompiledExercise, out: _Collector, template_line: int) -> frozenset[str]:
    names = compiled.block_names()
    if "brief" not in names:
        out.add(Problem(out.path, template_line, "no {% block brief %}: the learner would have no task to read",
                        "add {% block brief %}What to do and why it matters.{% endblock %}"))
    if meta.writes == "answer":
        for block in ("system", "user"):  # (a prefill block: lab/format/shapes.py)
            if block in names:
                out.at(("writes",), f"`writes: answer` calls no model, so its {{% block {block} %}} is never sent",
                       "remove the block: the learner's own text is graded as the output of every case")
    own = compiled.env.get_template(compiled.name).blocks
    for name in own:
        if name not in BLOCKS:
            close = difflib.get_close_matches(name, BLOCKS, n=1, cutoff=0.75)
            if close:
                out.add(Problem(out.path, None, f"block '{name}' is not an exercise block (did you mean '{close[0]}'?)",
                                f"rename it to '{close[0]}'; exercise blocks are {', '.join(BLOCKS)}"))
    return frozenset(names)


PLACEHOLDER_ATTEMPT = "(the learner's text)"


def _check_renders(meta: FrontMatter, compiled: CompiledExercise, out: _Collector) -> None:
    """Render every block for every case so an undefined name is caught now, not in front of a learner."""
    seen: set[tuple[str | None, int | None, str]] = set()
    from lab.format.exercise import main_text, written_texts
    from lab.format.messages import placeholder_texts

    texts = placeholder_texts(meta, lambda name: PLACEHOLDER_ATTEMPT)
    first = texts.get(main_text(written_texts(meta.writes)), PLACEHOLDER_ATTEMPT)
    for case in meta.cases:
        variables = block_variables(meta, case.name, first[0] if isinstance(first, list) else first, texts)
        for block in BLOCKS:
            try:
                compiled.render_block(block, variables)
            except Exception as exc:  # a Jinja error, a bound met, or Python's own (`1 / 0`): a problem with its line
                file, line = error_line(exc)
                message, fix = describe_template_error(exc, compiled.env.loader.root)  # type: ignore[union-attr]
                if (file, line, message) in seen:
                    continue
                seen.add((file, line, message))
                out.add(Problem(Path(file) if file else out.path, line, f"{message} (block '{block}', case '{case.name}')", fix))


_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)+)\}\}\s*$", re.DOTALL)


def _render_param(value: Any, env: Any, variables: dict[str, Any]) -> Any:
    """Render string parameters with the case's variables. A parameter that is exactly one
    `{{ expression }}` whose value is a list or mapping keeps that shape (`values: "{{ labels }}"`)."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        single = _SINGLE_EXPRESSION.match(value)
        if single:
            result = evaluate(env, single.group("expr"), variables)
            if isinstance(result, (list, tuple, dict)):
                return list(result) if isinstance(result, tuple) else result
        return render_string(env, value, variables)
    if isinstance(value, list):
        return [_render_param(v, env, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_param(v, env, variables) for k, v in value.items()}
    return value


def _check_rubric(meta: FrontMatter, root: Path, out: _Collector) -> dict[str, dict[str, BaseModel]]:
    from graders import get_check

    env = root_environment(root)
    params: dict[str, dict[str, BaseModel]] = {}
    case_names = [c.name for c in meta.cases]
    for index in _repeats(case_names):
        out.at(("cases", index, "name"), f"case name '{case_names[index]}' is used twice; case names must be unique",
               "rename one of the cases")
    ids = [c.id for c in meta.rubric.criteria]
    for index in _repeats(ids):
        out.at(("rubric", "criteria", index, "id"), f"criterion id '{ids[index]}' is used twice; criterion ids must be unique",
               "rename one of the criteria")
    if sum(c.weight for c in meta.rubric.criteria) <= 0:
        out.at(("rubric", "criteria"), "every criterion has weight 0, so no score can be computed", "give at least one criterion a positive weight")

    for index, criterion in enumerate(meta.rubric.criteria):
        loc = ("rubric", "criteria", index)
        try:
            check = get_check(criterion.check)
        except KeyError as exc:
            out.at(loc + ("check",), str(exc.args[0]), "use a check from docs/graders.md")
            continue
        applies = [c for c in meta.cases if criterion.applies_to(c.name)]
        if not applies:
            out.at(loc + ("cases",), f"criterion '{criterion.id}': `cases: {criterion.cases}` matches no case",
                   f"use case names ({', '.join(case_names)}) or globs such as 'attack-*'")
            continue
        for position, pattern in enumerate(criterion.cases or []):
            if not any(fnmatch.fnmatchcase(name, pattern) for name in case_names):  # a typo would silently skip a case
                close = difflib.get_close_matches(pattern, case_names, n=1)
                out.at(loc + ("cases", position), f"criterion '{criterion.id}': '{pattern}' under `cases:` matches no case"
                       + (f" (did you mean '{close[0]}'?)" if close else ""), f"the cases are: {', '.join(case_names)}")
        per_case: dict[str, BaseModel] = {}
        scopes = [(GROUP, None)] if check.scope == "group" else [(c.name, c.name) for c in applies]
        for key, case_name in scopes:
            variables = block_variables(meta, case_name, "") if case_name else dict(meta.vars)
            try:
                rendered = _render_param(criterion.params, env, variables)
            except Exception as exc:  # a Jinja error, a bound met, or Python's own
                message, fix = describe_template_error(exc)
                out.at(loc, f"criterion '{criterion.id}': {message}" + (f" (case '{case_name}')" if case_name else ""), fix)
                break
            try:
                per_case[key] = check.params.model_validate(rendered)
                case_problems = getattr(per_case[key], "case_problems", None)
                for text in case_problems(case_names) if callable(case_problems) else []:
                    out.at(loc, f"criterion '{criterion.id}': {text}", f"the cases are: {', '.join(case_names)}")
            except ValidationError as exc:
                for error in exc.errors():
                    param = [p for p in error["loc"] if not isinstance(p, int)]
                    name = str(param[0]).rstrip("_") if param else ""
                    if error["type"] == "missing":
                        message = f"criterion '{criterion.id}': check '{check.name}' needs the parameter '{name}'"
                        fix = f"add `{name}:` to the criterion (docs/graders.md describes '{check.name}')"
                    elif error["type"] == "extra_forbidden":
                        known = [n.rstrip("_") for n in check.params.model_fields]
                        criterion_keys = ["id", "check", "weight", "cases", "feedback", "not", "reads"]
                        close = difflib.get_close_matches(name, known + criterion_keys, n=1)
                        message = f"criterion '{criterion.id}': check '{check.name}' has no parameter '{name}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                        fix = f"its parameters are: {', '.join(known) or 'none'}; every criterion also takes {', '.join(criterion_keys)}"
                    elif error["type"] == "empty_text":
                        what = "has an empty entry" if any(isinstance(part, int) for part in error["loc"]) else "is empty"
                        on_case = f" (case '{case_name}')" if case_name else ""
                        message = f"criterion '{criterion.id}': parameter '{name}' {what}{on_case}, so it would match every output"
                        fix = "give it a text, or check that the variable it uses has a value in every case"
                    else:
                        # the checks' own validators write a predicate ("is not a valid ..."); pydantic's are sentences
                        detail = f" {error['msg'].removeprefix('Value error, ')}" if error["type"] == "value_error" else f": {error['msg']}"
                        message = f"criterion '{criterion.id}': parameter '{name}'{detail}"
                        fix = f"see '{check.name}' in docs/graders.md"
                    out.at(loc + ((name,) if name else ()), message, fix)
                break
        params[criterion.id] = per_case
    return params


def _repeats(names: list[str]) -> list[int]:
    """Indexes of the names that already occurred earlier in the list."""
    return [i for i, name in enumerate(names) if name in names[:i]]


def _check_examples(meta: FrontMatter, out: _Collector, shaped: bool = True) -> None:
    case_names = [c.name for c in meta.cases]
    for index, example in enumerate(meta.examples):
        loc = ("examples", index)
        missing = [n for n in case_names if n not in example.outputs]
        unknown = [n for n in example.outputs if n not in case_names]
        if missing:
            out.at(loc + ("outputs",), f"example {index + 1} has no output for case(s) {', '.join(missing)}",
                   "give an output for every case under `outputs:`")
        if unknown:
            out.at(loc + ("outputs",), f"example {index + 1} has outputs for unknown case(s) {', '.join(unknown)}",
                   f"the cases are: {', '.join(case_names)}")
        for name in case_names:
            if name in example.outputs and not example.outputs_for(name):
                out.at(loc + ("outputs", name), f"example {index + 1}: the output list for case '{name}' is empty", "give at least one output")
    if shaped:
        shapes.check_examples(meta, out)
