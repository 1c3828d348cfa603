"""Jinja sandboxing for exercises and for the learner's own text.

Each exercise root gets one `SandboxedEnvironment` whose loader serves files of that root only,
so `{% extends %}`, `{% include %}` and `{% import %}` resolve within it. Front matter is replaced
by blank lines before Jinja sees a file, so Jinja's line numbers are the file's line numbers.
"""

from __future__ import annotations

import functools
import os
import re
import types
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound, nodes
from jinja2.bccache import BytecodeCache, FileSystemBytecodeCache
from jinja2.exceptions import SecurityError, TemplateError, TemplateRuntimeError, TemplateSyntaxError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from lab.errors import PromptError
from lab.format.sandbox import MAX_CHARS, BoundedSandbox, RenderLimit, bounded
from lab.settings import paths

FENCE = "---"


@dataclass(frozen=True)
class SplitFile:
    front_matter: str | None  # None when the file has no front matter
    front_matter_line: int  # file line of the front matter's first line
    template_source: str  # the Jinja part, padded with blank lines to keep line numbers
    template_line: int = 1  # file line where the Jinja part starts


def split_front_matter(text: str) -> SplitFile:
    """Split `---` front matter from the template. The closing fence may be the last line."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != FENCE:
        return SplitFile(None, 0, text)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() == FENCE:
            front = "".join(lines[1:index])
            padding = "\n" * (index + 1)
            return SplitFile(front, 2, padding + "".join(lines[index + 1 :]), index + 2)
    raise UnclosedFrontMatter()


class UnclosedFrontMatter(ValueError):
    pass


class OutsideLink(TemplateError):
    """A partial that is a link leading out of its exercise root: refused, never read."""


class RootLoader(BaseLoader):
    """Serves templates of one exercise root, with their front matter blanked out.

    A partial (`_name.j2`) the root lacks is looked up in `fallback`, the bundled curriculum, so a
    trainer who copies a bundled exercise into their own folder keeps its layout and macros.
    The root's own partials always win.
    """

    def __init__(self, root: Path, fallback: Path | None = None):
        self.root = root
        self.fallback = fallback if fallback is not None and fallback != root else None

    def path_of(self, template: str) -> Path:
        parts = split_template_path(template)
        path = self.root.joinpath(*parts)
        if not path.is_file() and self.fallback is not None and parts and parts[-1].startswith("_"):
            shared = self.fallback.joinpath(*parts)
            if shared.is_file():
                return shared
        return path

    def outside(self, path: Path) -> str | None:
        """Where `path` really leads when that is outside its root (a link to `/etc/passwd`); else None."""
        real = os.path.realpath(path)
        folders = [self.root] + ([self.fallback] if self.fallback is not None else [])
        if any(real == str(f) or real.startswith(str(f).rstrip(os.sep) + os.sep) for f in folders):
            return None
        return real

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.path_of(template)
        if not path.is_file():
            raise TemplateNotFound(template)
        target = self.outside(path)
        if target is not None:  # never read: a shared pack's link could show any file of the machine
            raise OutsideLink(f"'{template}' is a link that points outside the exercise folder (to {target}); it is not read")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:  # an unreadable partial is a problem of the file using it
            why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise TemplateError(f"cannot read '{template}': {why}") from None
        try:
            source = split_front_matter(text).template_source
        except UnclosedFrontMatter:
            source = text
        mtime = path.stat().st_mtime
        # up to date while the same file serves the name: a root's own partial created later replaces the bundled one
        return source, str(path), lambda: self.path_of(template) == path and path.exists() and path.stat().st_mtime == mtime


def _environment(loader: BaseLoader | None, bytecode_cache: BytecodeCache | None = None) -> SandboxedEnvironment:
    return BoundedSandbox(
        loader=loader,
        bytecode_cache=bytecode_cache,
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_root_environments: dict[Path, SandboxedEnvironment] = {}


def root_environment(root: Path) -> SandboxedEnvironment:
    root = Path(os.path.realpath(root))
    env = _root_environments.get(root)
    if env is None:
        bundled = paths.bundled_exercises_dir().resolve()
        env = _root_environments[root] = _environment(RootLoader(root, fallback=bundled), _bytecode_cache())
    return env


def _bytecode_cache() -> BytecodeCache | None:
    """Compiled exercise files kept between runs (keyed by path and source), so `lab list` does not
    compile every template again; without a writable cache folder, templates are simply compiled."""
    folder = paths.cache_dir() / "templates-2"  # 2: compiled with the counting of lab.format.sandbox (older code lacks it)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder))


@lru_cache(maxsize=512)
def string_template(env: SandboxedEnvironment, source: str) -> Template:
    """`env.from_string(source)`, compiled once: the same parameter or learner text renders per case."""
    return env.from_string(source)


class RenderFailed(TemplateRuntimeError):
    """Python's own error inside a template (`{{ 1 / 0 }}`, `'a' + 1`, `wordwrap(0)`), as a Jinja error: every
    caller of a render catches `TemplateError` alone, and none lets a ZeroDivisionError through as a crash.
    The original is its `__cause__` (its traceback holds the template's line)."""


@contextmanager
def _failures_as_template_errors() -> Iterator[None]:
    try:
        yield
    except TemplateError:
        raise
    except Exception as exc:
        raise RenderFailed(_python_error(exc)) from exc


def render_string(env: SandboxedEnvironment, source: str, variables: dict[str, Any]) -> str:
    """A string template of an exercise (a criterion's parameter) rendered within the bounds of one render."""
    with bounded(), _failures_as_template_errors():
        return _within_limit(string_template(env, source).render(variables))


def evaluate(env: SandboxedEnvironment, expression: str, variables: dict[str, Any]) -> Any:
    """The value of one Jinja expression (`labels`, `_expected[case]`), within the bounds of one render."""
    with bounded(), _failures_as_template_errors():
        return env.compile_expression(expression, undefined_to_none=False)(**variables)


def _within_limit(text: str) -> str:
    if len(text) > MAX_CHARS:
        raise RenderLimit(f"the rendered text would be {len(text):,} characters long; the limit is {MAX_CHARS:,}")
    return text


@lru_cache(maxsize=512)
def parent_name(env: SandboxedEnvironment, source: str, filename: str) -> tuple[str, int] | None:
    """The template a file `{% extends %}` and the tag's line, read statically so blocks render one at a time.
    Cached: a layout shared by many exercises is read once."""
    if "extends" not in source:  # most files extend nothing: skip parsing them a second time
        return None
    tree = env.parse(source, name=filename, filename=filename)
    for node in tree.body:
        if isinstance(node, nodes.Extends):
            if not isinstance(node.template, nodes.Const) or not isinstance(node.template.value, str):
                raise TemplateSyntaxError(
                    "{% extends %} must name its layout as a fixed string, e.g. {% extends '_layout.j2' %}",
                    node.lineno,
                    filename,
                    filename,
                )
            return node.template.value, node.lineno
    for node in tree.find_all(nodes.Extends):
        raise TemplateSyntaxError("{% extends %} must be at the top level of the file, not inside another tag", node.lineno, filename, filename)
    return None


class ExtendsLoop(TemplateSyntaxError):
    """Layouts that extend each other, so no chain of `{% extends %}` ever ends."""


class MissingLayout(TemplateSyntaxError):
    """An `{% extends %}` naming a file the root (and the bundled curriculum) does not have."""


class IncludeLoop(TemplateSyntaxError):
    """Files that `{% include %}` (or import) each other, so rendering would never end."""


MAX_INCLUDE_DEPTH = 20  # partials nest a few levels deep; a chain this long is a mistake (or a loop by variable)


@lru_cache(maxsize=512)
def _included_names(env: SandboxedEnvironment, source: str, filename: str) -> tuple[tuple[str, int], ...]:
    """The files a template includes or imports by a fixed name, with the tag's line."""
    if "include" not in source and "import" not in source:
        return ()
    tree = env.parse(source, name=filename, filename=filename)
    found = []
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
        target = node.template
        names = [target.value] if isinstance(target, nodes.Const) else \
            [item.value for item in target.items if isinstance(item, nodes.Const)] if isinstance(target, (nodes.List, nodes.Tuple)) else []
        found += [(name, node.lineno) for name in names if isinstance(name, str)]
    return tuple(found)


def _check_includes(env: SandboxedEnvironment, name: str, path: tuple[str, ...] = ()) -> None:
    """Follow every fixed-name include from `name`; raise IncludeLoop at the tag that closes a loop."""
    path = path + (name,)
    try:
        source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except TemplateNotFound:
        return  # reported where the template is rendered, with its block and case
    for included, line in _included_names(env, source, filename):
        if included in path or len(path) >= MAX_INCLUDE_DEPTH:
            what = "includes itself" if included == name else "files include each other in a loop" if included in path \
                else f"includes are nested more than {MAX_INCLUDE_DEPTH} deep"
            raise IncludeLoop(f"{what}: {' → '.join(path + (included,))}", line, filename, filename)
        _check_includes(env, included, path)


@dataclass(frozen=True)
class CompiledExercise:
    """An exercise template with its inheritance chain resolved."""

    env: SandboxedEnvironment
    name: str
    chain: tuple[str, ...]  # the file itself, then each layout it extends

    @cached_property
    def _blocks(self) -> dict[str, list[Callable[..., Iterator[str]]]]:
        # looked up once per loaded exercise: each get_template stats every file of the chain, and
        # validating an exercise renders each block for every case (thousands of look-ups per `lab validate`)
        blocks: dict[str, list[Callable[..., Iterator[str]]]] = {}
        for template_name in self.chain:
            for block, fn in self.env.get_template(template_name).blocks.items():
                blocks.setdefault(block, []).append(fn)
        return blocks

    @cached_property
    def _template(self) -> Any:
        return self.env.get_template(self.name)

    def block_functions(self) -> dict[str, list[Callable[..., Iterator[str]]]]:
        return {name: list(functions) for name, functions in self._blocks.items()}

    def block_names(self) -> frozenset[str]:
        return frozenset(self.block_functions())

    def render_block(self, block: str, variables: dict[str, Any]) -> str | None:
        """Render one named block (None when no template in the chain defines it)."""
        blocks = self.block_functions()
        if block not in blocks:
            return None
        template = self._template
        context = template.new_context(variables)
        # Top-level `{% import %}` and `{% set %}` run in a file's body, not in its blocks: run the bodies
        # of the chain once with every block silenced, so the names they define exist for the block.
        context.blocks = {name: [_silent_block] for name in blocks}
        try:
            with bounded(), _failures_as_template_errors():
                for _ in template.root_render_func(context):
                    pass
                context.blocks = blocks  # the whole chain, so `super()` works
                return _within_limit("".join(blocks[block][0](context))).strip()
        except RenderFailed as exc:
            if isinstance(exc.__cause__, RecursionError):  # an include chosen by a variable that leads back to itself: no static check sees it
                raise TemplateError(f"templates include each other without end while rendering block '{block}'") from None
            raise


def _silent_block(context: Any) -> Iterator[str]:
    return iter(())


def compile_exercise(root: Path, name: str) -> CompiledExercise:
    """Compile `name` (a path under `root`) and every layout it extends; raises Jinja errors."""
    env = root_environment(root)
    chain = [name]
    current = name
    while True:
        source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
        env.get_template(current)  # compiles, raising TemplateSyntaxError with the file's line
        found = parent_name(env, source, filename)
        if found is None:
            break
        parent, line = found
        if parent in chain:
            raise ExtendsLoop(f"layouts extend each other in a loop: {' -> '.join(chain + [parent])}", line, filename, filename)
        try:
            env.loader.get_source(env, parent)  # type: ignore[union-attr]
        except TemplateNotFound:
            raise MissingLayout(f"no file '{parent}' in this exercise root (the layout this {{% extends %}} names)", line, filename, filename) from None
        chain.append(parent)
        current = parent
    for template_name in chain:
        _check_includes(env, template_name)
    return CompiledExercise(env, name, tuple(chain))


def template_dependencies(root: Path, name: str) -> dict[str, str | None]:
    """Every file the template `name` of `root` reads through `{% extends %}`, `{% include %}`,
    `{% import %}` and `{% from %}`, followed through the partials, as {path: None}. The root's own
    path of a partial is listed even where the bundled one serves it, since creating it would
    change what loads. Names given as expressions cannot be followed and are left out."""
    env = root_environment(root)
    loader: RootLoader = env.loader  # type: ignore[assignment]
    found: dict[str, str | None] = {}
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            parts = split_template_path(current)
        except TemplateNotFound:
            continue
        path = loader.path_of(current)
        found[str(root.joinpath(*parts))] = None
        found[str(path)] = None
        if loader.outside(path) is not None:
            continue  # never read (loading says so)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        todo.extend(_references(env, str(path), (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)))
    return found


@lru_cache(maxsize=4096)
def _references(env: Any, path: str, version: tuple[int, int, int, int]) -> tuple[str, ...]:
    """The template names one file names, parsed once per version of it (a layout that fifty exercises
    extend is read once, not fifty times, by `lab validate`)."""
    from jinja2 import meta

    try:
        source = split_front_matter(Path(path).read_text(encoding="utf-8-sig")).template_source
        tree = env.parse(source)
    except (OSError, UnicodeDecodeError, UnclosedFrontMatter, TemplateSyntaxError):
        return ()
    return tuple(ref for ref in meta.find_referenced_templates(tree) if isinstance(ref, str))


def error_line(exc: BaseException) -> tuple[str | None, int | None]:
    """(file, line) of a Jinja error: syntax errors carry it; runtime errors are found in the traceback."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.filename, exc.lineno
    if isinstance(exc, RenderFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    found: tuple[str | None, int | None] = (None, None)
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        # a compiled template's frame runs Python lines; its template maps them back to file lines
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            found = (tb.tb_frame.f_code.co_filename, template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found


def describe_template_error(exc: BaseException, root: Path | None = None) -> tuple[str, str]:
    """A (message, fix) pair for a Jinja error met while loading an exercise of `root`."""
    if isinstance(exc, RenderFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, UndefinedError):
        name = _undefined_name(str(exc))
        what = f"'{name}' is not defined" if name and "has no attribute" not in str(exc) else str(exc)
        return (f"template error: {what}", "define it under `vars:` or in every case's `vars:`, or fix the spelling")
    if isinstance(exc, TemplateNotFound):
        where = f" ({root})" if root else ""
        return (f"template error: no file '{exc.name}' in this exercise root",
                f"partials are looked up from the exercise root{where}; check the name, or give the course's top folder with --exercises")
    if isinstance(exc, RenderLimit):
        return (f"template error: {exc.message}",
                f"a rendered text is at most {MAX_CHARS:,} characters, a range counts to 100,000 and one render loops or calls "
                "100,000 times at most (docs/authoring.md, \"Limits\"): build less")
    if isinstance(exc, OutsideLink):
        return (f"template error: {exc.message}", "copy the partial into the exercise folder instead of linking to it")
    if isinstance(exc, SecurityError):
        return (f"template error: the sandbox refused an operation ({exc})", "exercise templates cannot reach Python internals; use plain Jinja filters and variables")
    if isinstance(exc, MissingLayout):
        where = f" ({root})" if root else ""
        return (f"template error: {exc.message}",
                f"layouts are looked up from the exercise root{where}; check the name, or give the course's top folder with --exercises")
    if isinstance(exc, IncludeLoop):
        return (f"template error: {exc.message}", "remove the {% include %} on that line, or include a file that does not lead back here")
    if isinstance(exc, ExtendsLoop):
        return (f"template error: {exc.message}", "remove one of these {% extends %} tags: a layout chain must end in a layout that extends nothing")
    if isinstance(exc, TemplateSyntaxError):
        return (f"template syntax error: {exc.message}", "check the tag on that line: every {% block %} needs {% endblock %}, every {{ needs }}")
    if not isinstance(exc, TemplateError):  # Python's own error inside an expression: `1 / 0`, `'a' + 1`, `wordwrap(0)`
        return (f"template error: {_python_error(exc)}", "check the expression on that line")
    return (f"template error: {exc}", "check the template on that line")


def _python_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "macros or includes call each other without end"
    if isinstance(exc, MemoryError):
        return "the template needs more memory than there is"
    return str(exc).rstrip(".") or type(exc).__name__


def _undefined_name(message: str) -> str | None:
    match = re.search(r"'([^']+)' is undefined", message) or re.search(r"has no attribute '([^']+)'", message)
    return match.group(1) if match else None


class _NotPlaced(TemplateError):
    """The learner's text tried to take a case's data apart (characters out of a text, a text joined letter by letter)."""


class _LearnerSandbox(BoundedSandbox):
    """The learner's text: fields and items are picked out of mappings and lists, and text stays whole."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return self.undefined(obj=obj, name=attribute)  # no method, no attribute of a text: "no such field"

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, str) and not isinstance(argument, str):
            raise _NotPlaced("takes characters out of a case's text")
        if isinstance(obj, (Mapping, list, tuple)):
            try:
                return obj[argument]
            except (LookupError, TypeError):
                pass
        return self.undefined(obj=obj, name=argument)


def _learner_environment() -> SandboxedEnvironment:
    env = _LearnerSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    join = env.filters["join"]

    @functools.wraps(join)  # keeps Jinja's pass_eval_context mark: the evaluation context comes first
    def join_items(eval_ctx: Any, value: Any, *args: Any, **kwargs: Any) -> str:
        if not isinstance(value, (list, tuple)):
            raise _NotPlaced("uses `join` on a value that is not a list (a text is placed as it is)")
        return join(eval_ctx, value, *args, **kwargs)

    env.filters = {name: env.filters[name] for name in PLACING_FILTERS} | {"join": join_items}
    return env


# What a learner's text may contain: text, {{ name }}, {{ name.field }}, {{ name['key'] }}, {{ items[0] }} and
# the placing filters. Two rules, each closing a way to game a rubric instead of generalising:
# - it cannot branch: no tags, tests, comparisons, calls or inline ifs. A prompt that could branch on a
#   case's data could answer each case differently (say, refuse only the cases whose input looks like an attack);
# - it cannot rewrite a case's data: the data reaches the model exactly as the case has it. A filter that
#   cleans the injection out of an email (`replace`, `striptags`, `truncate`, a slice) would pass every
#   injection exercise with no defence at all. Only filters that keep every character, in order, lay it out.
PLACING_FILTERS = ("join", "trim", "indent")
_FILTER_ARGUMENTS = {"join": (1, frozenset()), "trim": (0, frozenset()), "indent": (3, frozenset({"width", "first", "blank"}))}
_PLACING = "only `join` (a list's items), `trim` and `indent` may lay it out"
_LEARNER_NODES = (nodes.Name, nodes.Getattr, nodes.Const)
_FORBIDDEN_NAMES = {
    nodes.If: "{% if %}", nodes.For: "{% for %}", nodes.CondExpr: "an inline `if ... else`",
    nodes.Compare: "a comparison", nodes.Test: "an `is` test", nodes.Call: "a function or method call",
    nodes.And: "`and`", nodes.Or: "`or`", nodes.Not: "`not`", nodes.Assign: "{% set %}", nodes.Macro: "{% macro %}",
    nodes.Include: "{% include %}", nodes.Import: "{% import %}", nodes.FromImport: "{% from %}",
    nodes.Extends: "{% extends %}", nodes.Block: "{% block %}", nodes.BinExpr: "arithmetic (`*`, `+`, `%`…)",
    nodes.UnaryExpr: "arithmetic (`-`, `+`)", nodes.Concat: "`~`",
}


@dataclass(frozen=True)
class _Refused:
    what: str  # the construct, in words
    line: int
    rewrites: bool  # True: it would change the data; False: it would branch on it


def _refused_in(node: nodes.Node) -> _Refused | None:
    """The first construct of one `{{ }}` expression a learner's text may not use; None when it only places values."""
    if isinstance(node, _LEARNER_NODES):
        pass
    elif isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Slice):
            return _Refused("a slice", node.lineno, True)
        if not isinstance(node.arg, nodes.Const):
            return _Refused("an index computed from data", node.lineno, False)
    elif isinstance(node, nodes.Filter):
        if node.name not in PLACING_FILTERS:
            return _Refused(f"the filter `{node.name}`", node.lineno, True)
        most, names = _FILTER_ARGUMENTS[node.name]
        if len(node.args) > most or any(k.key not in names for k in node.kwargs) or node.dyn_args or node.dyn_kwargs:
            return _Refused(f"`{node.name}` with these arguments", node.lineno, True)
        if not all(isinstance(a, nodes.Const) for a in node.args + [k.value for k in node.kwargs]):
            return _Refused(f"`{node.name}` with an argument that is not a fixed value", node.lineno, False)
        return _refused_in(node.node) if node.node is not None else None
    elif isinstance(node, (nodes.List, nodes.Tuple)):
        if not all(isinstance(item, nodes.Const) for item in node.items):
            return _Refused("a list built from data", node.lineno, False)
    else:
        what = next((label for kind, label in _FORBIDDEN_NAMES.items() if isinstance(node, kind)), "an expression")
        return _Refused(what, node.lineno, False)
    for child in node.iter_child_nodes():
        found = _refused_in(child)
        if found:
            return found
    return None


@dataclass(frozen=True)
class _Piece:
    """A stretch of the learner's text: literal text, or one `{{ }}` compiled on its own, so an error names it."""

    text: str
    template: Template | None = None
    line: int = 1


def _expression_sources(text: str) -> list[tuple[str, int]]:
    """Each `{{ ... }}` of the text as written (without its braces), with its line, from Jinja's own lexer."""
    found: list[tuple[str, int]] = []
    current: list[str] | None = None
    line = 1
    for lineno, kind, value in _learner_env.lex(text):
        if kind == "variable_begin":
            current, line = [], lineno
        elif kind == "variable_end" and current is not None:
            found.append(("".join(current).strip(), line))
            current = None
        elif current is not None:
            current.append(value)
    return found


def _learner_pieces(text: str) -> tuple[_Piece, ...]:
    # the same text renders once per case: cached, but only while short (a class's thousand long prompts would fill memory)
    return _cached_pieces(text) if len(text) <= 20_000 else _cut(text)


@lru_cache(maxsize=512)
def _cached_pieces(text: str) -> tuple[_Piece, ...]:
    return _cut(text)


def _cut(text: str) -> tuple[_Piece, ...]:
    """The text cut into literal stretches and placed expressions; PromptError for a construct it may not use."""
    tree = _learner_env.parse(text)
    sources = _expression_sources(text)
    pieces: list[_Piece] = []
    index = 0
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            what = next((label for kind, label in _FORBIDDEN_NAMES.items() if isinstance(output, kind)), "a tag")
            raise _branching(what, output.lineno)
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append(_Piece(node.data))
                continue
            source, line = sources[index] if index < len(sources) else ("…", node.lineno)
            index += 1
            refused = _refused_in(node)
            if refused is not None and refused.rewrites:
                raise PromptError(
                    f"Your text changes a case's data with {refused.what} in `{{{{ {source} }}}}` (line {refused.line}): the data reaches "
                    f"the model exactly as the case has it, so place it with {{{{ name }}}} ({_PLACING}).")
            if refused is not None:
                raise _branching(refused.what, refused.line)
            pieces.append(_Piece(source, string_template(_learner_env, "{{ " + source + " }}"), line))
    return tuple(pieces)


def _branching(what: str, line: int) -> PromptError:
    return PromptError(
        f"Your text uses {what} on line {line}. Your text can place a case's data with {{{{ name }}}} "
        f"({_PLACING}) but cannot branch on it: the same prompt must work for every case. "
        "To write literal braces, wrap them in {% raw %}...{% endraw %}.")


def render_learner_text(text: str, variables: dict[str, Any], case_name: str | None = None) -> str:
    """Render the learner's text with the case's variables: values are placed, never branched on nor
    rewritten, and the result is at most `MAX_CHARS` long, checked as it grows. Every error is a
    `PromptError` in one sentence that names the expression."""
    where = f" for case '{case_name}'" if case_name else ""
    try:
        pieces = _learner_pieces(text)  # parsed even without braces: Jinja's reading of line ends is the one every text gets
    except TemplateSyntaxError as exc:
        raise PromptError(
            f"Your text has a template error on line {exc.lineno}: {(exc.message or '').rstrip('.')}. "
            "To write literal braces, wrap them in {% raw %}...{% endraw %}."
        ) from exc
    except RecursionError:
        raise PromptError("Your text nests brackets too deeply to be read: write each placeholder as {{ name }}.") from None
    placed: list[str] = []
    size = 0
    for piece in pieces:
        chunk = piece.text if piece.template is None else _place(piece, variables, where)
        size += len(chunk)
        if size > MAX_CHARS:  # checked as the text grows: a thousand placements of a long document stop here
            raise PromptError(f"Your text, with the case's data placed{where}, would be longer than {MAX_CHARS:,} characters "
                              "(the lab's limit for one message): place the data fewer times.")
        placed.append(chunk)
    return "".join(placed)


def _place(piece: _Piece, variables: dict[str, Any], where: str) -> str:
    expression = f"`{{{{ {piece.text} }}}}` (line {piece.line})"
    try:
        with bounded():
            return piece.template.render(variables)  # type: ignore[union-attr]
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        known = ", ".join(sorted(variables)) or "none"
        if name and "has no attribute" in str(exc):
            what = f"'.{name}' on a value that has no such field"
        else:
            what = f"{{{{ {name} }}}}, which is not defined" if name else "a name that is not defined"
        raise PromptError(f"Your text uses {what}{where}. Names you can use: {known}.") from exc
    except _NotPlaced as exc:
        raise PromptError(f"Your text {exc.message} in {expression}: the data reaches the model exactly as the case has it, "
                          f"so place it with {{{{ name }}}} ({_PLACING}).") from None
    except SecurityError as exc:
        raise PromptError(f"Your text tried something the template sandbox does not allow ({str(exc).rstrip('.')}).") from exc
    except RenderLimit as exc:
        raise PromptError(f"Your text cannot be placed{where}: {expression} {exc.message}.") from None
    except Exception as exc:  # Python's own error inside a filter: one sentence, never a traceback
        raise PromptError(f"Your text cannot be placed{where}: {expression} fails ({_python_error(exc)}).") from None


_learner_env = _learner_environment()
