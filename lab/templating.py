"""Jinja sandboxing for exercises and for the learner's own text.

Each exercise root gets one `SandboxedEnvironment` whose loader serves files of that root only,
so `{% extends %}`, `{% include %}` and `{% import %}` resolve within it. Front matter is replaced
by blank lines before Jinja sees a file, so Jinja's line numbers are the file's line numbers.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from lab.errors import PromptError

FENCE = "---"


@dataclass(frozen=True)
class SplitFile:
    front_matter: str | None  # None when the file has no front matter
    front_matter_line: int  # file line of the front matter's first line
    template_source: str  # the Jinja part, padded with blank lines to keep line numbers


def split_front_matter(text: str) -> SplitFile:
    """Split `---` front matter from the template. The closing fence may be the last line."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != FENCE:
        return SplitFile(None, 0, text)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() == FENCE:
            front = "".join(lines[1:index])
            padding = "\n" * (index + 1)
            return SplitFile(front, 2, padding + "".join(lines[index + 1 :]))
    raise UnclosedFrontMatter()


class UnclosedFrontMatter(ValueError):
    pass


class RootLoader(BaseLoader):
    """Serves templates of one exercise root, with their front matter blanked out."""

    def __init__(self, root: Path):
        self.root = root

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.root.joinpath(*split_template_path(template))
        if not path.is_file():
            raise TemplateNotFound(template)
        text = path.read_text(encoding="utf-8")
        try:
            source = split_front_matter(text).template_source
        except UnclosedFrontMatter:
            source = text
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.exists() and path.stat().st_mtime == mtime


def _environment(loader: BaseLoader | None) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_root_environments: dict[Path, SandboxedEnvironment] = {}


def root_environment(root: Path) -> SandboxedEnvironment:
    root = root.resolve()
    env = _root_environments.get(root)
    if env is None:
        env = _root_environments[root] = _environment(RootLoader(root))
    return env


def parent_name(env: SandboxedEnvironment, source: str, name: str) -> str | None:
    """The template a file `{% extends %}`, read statically so blocks render one at a time."""
    tree = env.parse(source, name=name)
    for node in tree.body:
        if isinstance(node, nodes.Extends):
            if not isinstance(node.template, nodes.Const) or not isinstance(node.template.value, str):
                raise TemplateSyntaxError(
                    "{% extends %} must name its layout as a fixed string, e.g. {% extends '_layout.j2' %}",
                    node.lineno,
                    name,
                )
            return node.template.value
    for node in tree.find_all(nodes.Extends):
        raise TemplateSyntaxError("{% extends %} must be at the top level of the file, not inside another tag", node.lineno, name)
    return None


@dataclass(frozen=True)
class CompiledExercise:
    """An exercise template with its inheritance chain resolved."""

    env: SandboxedEnvironment
    name: str
    chain: tuple[str, ...]  # the file itself, then each layout it extends

    def block_functions(self) -> dict[str, list[Callable[..., Iterator[str]]]]:
        blocks: dict[str, list[Callable[..., Iterator[str]]]] = {}
        for template_name in self.chain:
            for block, fn in self.env.get_template(template_name).blocks.items():
                blocks.setdefault(block, []).append(fn)
        return blocks

    def block_names(self) -> frozenset[str]:
        return frozenset(self.block_functions())

    def render_block(self, block: str, variables: dict[str, Any]) -> str | None:
        """Render one named block (None when no template in the chain defines it)."""
        blocks = self.block_functions()
        if block not in blocks:
            return None
        template = self.env.get_template(self.name)
        context = template.new_context(variables)
        context.blocks = blocks  # the whole chain, so `super()` works
        return "".join(blocks[block][0](context)).strip()


def compile_exercise(root: Path, name: str) -> CompiledExercise:
    """Compile `name` (a path under `root`) and every layout it extends; raises Jinja errors."""
    env = root_environment(root)
    chain = [name]
    current = name
    while True:
        source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
        env.get_template(current)  # compiles, raising TemplateSyntaxError with the file's line
        parent = parent_name(env, source, filename)
        if parent is None:
            break
        if parent in chain:
            raise TemplateSyntaxError(f"layouts extend each other in a loop: {' -> '.join(chain + [parent])}", 1, filename)
        chain.append(parent)
        current = parent
    return CompiledExercise(env, name, tuple(chain))


def error_line(exc: BaseException, filename: str | None = None) -> tuple[str | None, int | None]:
    """(file, line) of a Jinja error: syntax errors carry it; runtime errors are found in the traceback."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.filename, exc.lineno
    found: tuple[str | None, int | None] = (None, None)
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if code_file.endswith(".j2") or (filename and code_file == filename):
            found = (code_file, tb.tb_lineno)
        tb = tb.tb_next
    return found


def describe_template_error(exc: BaseException) -> tuple[str, str]:
    """A (message, fix) pair for a Jinja error met while loading an exercise."""
    if isinstance(exc, UndefinedError):
        name = _undefined_name(str(exc))
        what = f"'{name}' is not defined" if name else str(exc)
        return (f"template error: {what}", "define it under `vars:` or in every case's `vars:`, or fix the spelling")
    if isinstance(exc, TemplateNotFound):
        return (f"template error: no file '{exc.name}' in this exercise root", "partials are looked up relative to the exercise root; check the name")
    if isinstance(exc, SecurityError):
        return (f"template error: the sandbox refused an operation ({exc})", "exercise templates cannot reach Python internals; use plain Jinja filters and variables")
    if isinstance(exc, TemplateSyntaxError):
        return (f"template syntax error: {exc.message}", "check the tag on that line: every {% block %} needs {% endblock %}, every {{ needs }}")
    return (f"template error: {exc}", "check the template on that line")


def _undefined_name(message: str) -> str | None:
    match = re.search(r"'([^']+)' is undefined", message) or re.search(r"has no attribute '([^']+)'", message)
    return match.group(1) if match else None


_learner_env = _environment(None)


def render_learner_text(text: str, variables: dict[str, Any], case_name: str | None = None) -> str:
    """Render the learner's text as a sandboxed template with the case's variables."""
    where = f" for case '{case_name}'" if case_name else ""
    try:
        return _learner_env.from_string(text).render(variables)
    except TemplateSyntaxError as exc:
        raise PromptError(
            f"Your text has a template error on line {exc.lineno}: {exc.message}. "
            "To write literal braces, wrap them in {% raw %}...{% endraw %}."
        ) from exc
    except UndefinedError as exc:
        name = _undefined_name(str(exc))
        known = ", ".join(sorted(k for k in variables if k not in ("attempt", "cases"))) or "none"
        what = f"{{{{ {name} }}}}" if name else "a name"
        raise PromptError(f"Your text uses {what}, which is not defined{where}. Names you can use: {known}.") from exc
    except SecurityError as exc:
        raise PromptError(f"Your text tried something the template sandbox does not allow ({exc}).") from exc
    except TemplateError as exc:
        raise PromptError(f"Your text could not be rendered{where}: {exc}.") from exc
