"""Jinja sandboxing for exercises and for the learner's own text.

Each exercise root gets one `SandboxedEnvironment` whose loader serves files of that root only,
so `{% extends %}`, `{% include %}` and `{% import %}` resolve within it. Front matter is replaced
by blank lines before Jinja sees a file, so Jinja's line numbers are the file's line numbers.
"""

from __future__ import annotations

import os
import re
import types
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound, nodes
from jinja2.bccache import BytecodeCache, FileSystemBytecodeCache
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from lab.errors import PromptError
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
    return SandboxedEnvironment(
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
    folder = paths.cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder))


@lru_cache(maxsize=512)
def string_template(env: SandboxedEnvironment, source: str) -> Template:
    """`env.from_string(source)`, compiled once: the same parameter or learner text renders per case."""
    return env.from_string(source)


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
            for _ in template.root_render_func(context):
                pass
            context.blocks = blocks  # the whole chain, so `super()` works
            return "".join(blocks[block][0](context)).strip()
        except RecursionError:  # an include chosen by a variable that leads back to itself: no static check sees it
            raise TemplateError(f"templates include each other without end while rendering block '{block}'") from None


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
    if isinstance(exc, UndefinedError):
        name = _undefined_name(str(exc))
        what = f"'{name}' is not defined" if name and "has no attribute" not in str(exc) else str(exc)
        return (f"template error: {what}", "define it under `vars:` or in every case's `vars:`, or fix the spelling")
    if isinstance(exc, TemplateNotFound):
        where = f" ({root})" if root else ""
        return (f"template error: no file '{exc.name}' in this exercise root",
                f"partials are looked up from the exercise root{where}; check the name, or give the course's top folder with --exercises")
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
    return (f"template error: {exc}", "check the template on that line")


def _undefined_name(message: str) -> str | None:
    match = re.search(r"'([^']+)' is undefined", message) or re.search(r"has no attribute '([^']+)'", message)
    return match.group(1) if match else None


_learner_env = _environment(None)


# What a learner's text may contain: text, {{ name }}, {{ name.field }}, {{ name['key'] }} and
# formatting filters with fixed arguments. No tags, tests, comparisons, calls or inline ifs: a prompt
# that could branch on a case's data could answer each case differently (say, refuse only the cases
# whose input looks like an attack) and so game the rubric instead of generalising.
LEARNER_FILTERS = frozenset({
    "upper", "lower", "title", "capitalize", "trim", "join", "indent", "wordwrap", "truncate", "center",
    "replace", "default", "d", "length", "count", "first", "last", "tojson", "string", "int", "float",
    "round", "list", "sort", "unique", "striptags", "wordcount", "e", "escape", "safe", "format",
})
_LEARNER_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Const)
_FORBIDDEN_NAMES = {
    nodes.If: "{% if %}", nodes.For: "{% for %}", nodes.CondExpr: "an inline `if ... else`",
    nodes.Compare: "a comparison", nodes.Test: "an `is` test", nodes.Call: "a function or method call",
    nodes.And: "`and`", nodes.Or: "`or`", nodes.Not: "`not`", nodes.Assign: "{% set %}", nodes.Macro: "{% macro %}",
    nodes.Include: "{% include %}", nodes.Import: "{% import %}", nodes.FromImport: "{% from %}",
    nodes.Extends: "{% extends %}", nodes.Block: "{% block %}",
}


def _learner_construct(tree: nodes.Node) -> tuple[str, int] | None:
    """The first construct a learner's text may not use, and its line; None when it only places values."""
    for node in tree.iter_child_nodes():
        if isinstance(node, _LEARNER_NODES):
            allowed = True
        elif isinstance(node, nodes.Getitem):
            allowed = isinstance(node.arg, (nodes.Const, nodes.Slice))
        elif isinstance(node, nodes.Slice):
            allowed = True
        elif isinstance(node, nodes.Filter):
            if node.name not in LEARNER_FILTERS:
                return (f"the filter '{node.name}'", node.lineno)
            allowed = all(isinstance(arg, nodes.Const) for arg in node.args)
        elif isinstance(node, (nodes.List, nodes.Tuple)):
            allowed = all(isinstance(item, nodes.Const) for item in node.items)
        else:
            allowed = False
        if not allowed:
            what = next((label for kind, label in _FORBIDDEN_NAMES.items() if isinstance(node, kind)), "an expression")
            return (what, node.lineno)
        found = _learner_construct(node)
        if found:
            return found
    return None


def render_learner_text(text: str, variables: dict[str, Any], case_name: str | None = None) -> str:
    """Render the learner's text as a sandboxed template with the case's variables.

    The text may place values (`{{ email }}`, `{{ name | upper }}`) but not branch on them.
    """
    where = f" for case '{case_name}'" if case_name else ""
    try:
        if "{" in text:
            construct = _learner_construct(_learner_env.parse(text))
            if construct:
                what, line = construct
                raise PromptError(
                    f"Your text uses {what} on line {line}. Your text can place a case's data with {{{{ name }}}} "
                    "(and filters such as {{ name | upper }}) but cannot branch on it: the same prompt must work for every case. "
                    "To write literal braces, wrap them in {% raw %}...{% endraw %}."
                )
        return string_template(_learner_env, text).render(variables)
    except TemplateSyntaxError as exc:
        raise PromptError(
            f"Your text has a template error on line {exc.lineno}: {(exc.message or '').rstrip('.')}. "
            "To write literal braces, wrap them in {% raw %}...{% endraw %}."
        ) from exc
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        known = ", ".join(sorted(variables)) or "none"
        if name and "has no attribute" in str(exc):
            what = f"'.{name}' on a value that has no such field"
        else:
            what = f"{{{{ {name} }}}}, which is not defined" if name else "a name that is not defined"
        raise PromptError(f"Your text uses {what}{where}. Names you can use: {known}.") from exc
    except SecurityError as exc:
        raise PromptError(f"Your text tried something the template sandbox does not allow ({str(exc).rstrip('.')}).") from exc
    except TemplateError as exc:
        raise PromptError(f"Your text could not be rendered{where}: {exc}.") from exc
