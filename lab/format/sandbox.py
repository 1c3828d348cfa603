"""The Jinja sandbox with bounds: what one render may build, and how long it may loop.

Jinja's `SandboxedEnvironment` keeps a template from Python's internals, not from building a text of
gigabytes (`{{ 'a' * 300000000 }}`, `{{ x | center(999999999) }}`) or looping for hours (nested
`range`s). A shared exercise pack and a learner's text are both written by someone else, so every
render here runs on a budget:

- an operation that would build a value past `MAX_CHARS` (a repeat, a padding, a format width, a
  replace or a join) is refused before it runs, through the sandbox's own hooks: `call_binop` for
  `*`, `**`, `%` and `+`, `call` for functions and methods, and the filters wrapped;
- `range` counts to `MAX_RANGE`; loop rounds and calls of one render share `MAX_STEPS`;
- what a render outputs (placed values, and the literal text of loop bodies) is counted as it grows,
  up to `MAX_WORK` characters, so a loop of small pieces stops too.

A bound that is met raises `RenderLimit`, a Jinja `TemplateError`: the loader reports it as
`file:line: message`, and the learner's text reports it in one sentence.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import ItemsView, KeysView, ValuesView
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from jinja2 import nodes
from jinja2.exceptions import TemplateRuntimeError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

MAX_CHARS = 1_000_000  # one rendered text (a block, a parameter, the learner's text for a case), and any value built on the way
MAX_WORK = 4 * MAX_CHARS  # output counted across one render: a macro's text counts where it is made and where it is placed
MAX_RANGE = 100_000  # numbers one range() may count (Jinja's own sandbox bound)
MAX_STEPS = 100_000  # loop rounds and calls in one render
MAX_DIGITS = 4_300  # an integer's digits (Python's own limit for turning one into text)


class RenderLimit(TemplateRuntimeError):
    """A render met one of the bounds above; the message says which, in words a trainer can act on."""


@dataclass
class _Budget:
    steps: int = 0
    work: int = 0


_budget: ContextVar[_Budget | None] = ContextVar("lab_render_budget", default=None)


@contextmanager
def bounded() -> Iterator[None]:
    """One render's budget. A render started inside another (an include) shares the outer one."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget())
    try:
        yield
    finally:
        _budget.reset(token)


def _step(n: int = 1) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.steps += n
    if budget.steps > MAX_STEPS:
        raise RenderLimit(f"the template loops or calls more than {MAX_STEPS:,} times in one render; "
                          "loop over the data itself, not over large ranges nested in each other")


def _work(chars: int) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.work += chars
    if budget.work > MAX_WORK:
        raise RenderLimit(f"the template makes more than {MAX_WORK:,} characters of text in one render")


def _too_large(what: str, size: float) -> RenderLimit:
    return RenderLimit(f"{what} would make {size:,.0f} characters (or list items); the limit is {MAX_CHARS:,}")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, dict, set, frozenset, bytes)) else None


def _check_result(what: str, value: Any) -> Any:
    size = _size(value)
    if size is not None and size > MAX_CHARS:
        raise _too_large(what, size)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_BITS_PER_DIGIT = math.log2(10)


def _written_sizer(limit: int = MAX_CHARS) -> Callable[[Any], int]:
    """A measure of about how many characters a value makes when written out (placed, `string`, `tojson`, `~`),
    nested containers counted whole: `[[[0]*1000]*1000]*1000` is a small object and a text of gigabytes. Each
    distinct container is walked once across every call (shared ones are counted again without walking, a cycle
    is written `[...]`), and a walk stops past `limit`."""
    seen: dict[int, int] = {}

    def size(item: Any) -> int:
        if isinstance(item, (str, bytes)):
            return len(item)
        if _number(item):
            return int(item.bit_length() / _BITS_PER_DIGIT) + 2
        if isinstance(item, Namespace):  # `namespace(v=...)` writes its values out too
            item = object.__getattribute__(item, "_Namespace__attrs")
        if isinstance(item, _CONTAINERS):
            known = seen.get(id(item))
            if known is not None:
                return known
            seen[id(item)] = 5  # met again inside itself: a cycle, written `[...]`
            total = 2
            for part in (item.items() if isinstance(item, dict) else item):
                total += size(part) + 2
                if total > limit:
                    break
            seen[id(item)] = total
            return total
        return 8

    return size


def _written_size(value: Any, limit: int = MAX_CHARS) -> int:
    return _written_sizer(limit)(value)


_CONTAINERS = (list, tuple, set, frozenset, dict, KeysView, ValuesView, ItemsView, Namespace)


def _check_written(what: str, value: Any) -> None:
    if isinstance(value, _CONTAINERS):
        size = _written_size(value)
        if size > MAX_CHARS:
            raise _too_large(what, size)


# ---------------------------------------------------------------- what an operation would build

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


def _check_printf(fmt: str, args: Any) -> None:
    """`fmt % args`: a width or precision past the limit would pad the text to that size."""
    starred = [a for a in (args if isinstance(args, tuple) else (args,)) if _number(a)]
    for match in _PRINTF.finditer(fmt):
        for part in match.groups():
            if part == "*" and any(abs(a) > MAX_CHARS for a in starred):
                raise _too_large("a `%` format width", max(abs(a) for a in starred))
            if part and part.isdigit() and int(part) > MAX_CHARS:
                raise _too_large("a `%` format width", int(part))


def _check_format_spec(fmt: str) -> None:
    """`fmt.format(...)`: a width in a replacement field (`{:>999999999}`) would pad to that size."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format says what is wrong
    for _, _, spec, _ in fields:
        if "{" in (spec or ""):  # `{:>{w}}`: the width comes from an argument, known only once it is padded
            raise RenderLimit("a format width taken from another field (`{:>{w}}`) is not allowed in a template; write the width itself")
        for digits in re.findall(r"\d+", spec or ""):
            if int(digits) > MAX_CHARS:
                raise _too_large("a format width", int(digits))


def _check_replace(text: Any, old: Any, new: Any, count: int = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)) or len(new) <= len(old):
        return
    hits = (text.count(old) if old else len(text) + 1)
    if _number(count) and count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * (len(new) - len(old))
    if size > MAX_CHARS:
        raise _too_large("this replace", size)


def _check_join(items: Any, separator: Any = "") -> None:
    if not isinstance(items, (list, tuple)):
        return
    measure = _written_sizer()  # one walk for every item: a list joined with itself n times is walked once, not n times
    size = len(str(separator)) * max(len(items) - 1, 0)
    for item in items:
        size += measure(item)
        if size > MAX_CHARS:
            raise _too_large("this join", size)


def _check_width(what: str, width: Any, lines: int = 1) -> None:
    if _number(width) and abs(width) * max(lines, 1) > MAX_CHARS:
        raise _too_large(what, abs(width) * max(lines, 1))
    if isinstance(width, str) and len(width) * max(lines, 1) > MAX_CHARS:
        raise _too_large(what, len(width) * max(lines, 1))


def _lines(value: Any) -> int:
    return str(value).count("\n") + 1 if isinstance(value, str) else 1


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A method of a text or list that could build a huge value from small arguments."""
    target = getattr(method, "__wrapped__", method)  # str.format reaches templates wrapped by the sandbox
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if isinstance(owner, (str, bytes, bytearray)):
        if name in ("center", "ljust", "rjust", "zfill"):
            _check_width(f"`{name}({_arg(args, kwargs, 0, 'width')})`", _arg(args, kwargs, 0, "width"))
        elif name == "expandtabs":
            size, tabs = _arg(args, kwargs, 0, "tabsize", 8), owner.count("\t" if isinstance(owner, str) else b"\t")
            if _number(size) and abs(size) * tabs > MAX_CHARS:
                raise _too_large(f"`expandtabs({size})`", abs(size) * tabs)
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
            if longest * len(owner) > MAX_CHARS:
                raise _too_large("this translate", longest * len(owner))
        elif name == "replace" and isinstance(owner, str):
            _check_replace(owner, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"), _arg(args, kwargs, 2, "count", -1))
        elif name == "join":
            _check_join(list(args[0]) if args and isinstance(args[0], (list, tuple)) else None, owner)
        elif name in ("format", "format_map") and isinstance(owner, str):
            _check_format_spec(owner)
        elif name == "replace" and len(_arg(args, kwargs, 1, "new", b"") or b"") > len(_arg(args, kwargs, 0, "old", b"") or b""):
            size = len(owner) * max(len(_arg(args, kwargs, 1, "new", b"") or b""), 1) * 2
            if size > MAX_CHARS:
                raise _too_large("this replace", size)
    elif isinstance(owner, list) and name == "extend" and args:
        extra = _size(args[0])
        if extra is not None and len(owner) + extra > MAX_CHARS:
            raise _too_large("this extend", len(owner) + extra)
    elif _number(owner) and name == "to_bytes":
        _check_width("`to_bytes`", _arg(args, kwargs, 0, "length", 1))


_FILTER_CHECKS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], None]] = {
    "center": lambda v, a, k: _check_width(f"`center({_arg(a, k, 0, 'width')})`", _arg(a, k, 0, "width", 80)),
    "indent": lambda v, a, k: _check_width(f"`indent({_arg(a, k, 0, 'width')!r})`", _arg(a, k, 0, "width", 4), _lines(v)),
    "wordwrap": lambda v, a, k: _check_width(f"`wordwrap({_arg(a, k, 0, 'width')})`", _arg(a, k, 0, "width", 79)),
    "truncate": lambda v, a, k: _check_width("`truncate`'s end", _arg(a, k, 2, "end", "...")),
    "batch": lambda v, a, k: _check_width(f"`batch({_arg(a, k, 0, 'linecount')})`", _arg(a, k, 0, "linecount", 1)),
    "slice": lambda v, a, k: _check_width(f"`slice({_arg(a, k, 0, 'slices')})`", _arg(a, k, 0, "slices", 1)),
    "tojson": lambda v, a, k: (_check_width(f"`tojson({_arg(a, k, 0, 'indent')})`", _arg(a, k, 0, "indent")),
                               _check_written("the filter `tojson`", v)),
    "string": lambda v, a, k: _check_written("the filter `string`", v),
    "pprint": lambda v, a, k: _check_written("the filter `pprint`", v),
    "safe": lambda v, a, k: _check_written("the filter `safe`", v),
    "escape": lambda v, a, k: _check_written("the filter `escape`", v),
    "e": lambda v, a, k: _check_written("the filter `e`", v),
    "urlencode": lambda v, a, k: _check_written("the filter `urlencode`", v),
    "format": lambda v, a, k: _check_printf(v, a) if isinstance(v, str) else None,
    "replace": lambda v, a, k: _check_replace(str(v), _arg(a, k, 0, "old"), _arg(a, k, 1, "new"), _arg(a, k, 2, "count", -1)),
    "join": lambda v, a, k: _check_join(v, _arg(a, k, 0, "d", "")),
}


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    passes = getattr(fn, "jinja_pass_arg", None) is not None  # context, eval context or environment comes first

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        value, rest = (args[1], args[2:]) if passes and len(args) > 1 else (args[0] if args else None, args[1:])
        check = _FILTER_CHECKS.get(name)
        if check is not None:
            check(value, tuple(rest), kwargs)
        return _check_result(f"the filter `{name}`", fn(*args, **kwargs))

    return run


def _bounded_range(*args: Any) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        shown = ", ".join(str(a) for a in args)
        raise RenderLimit(f"range({shown}) counts {len(numbers):,} numbers; a template may count {MAX_RANGE:,} at most")
    return numbers


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    from jinja2.utils import generate_lorem_ipsum

    if not (_number(n) and _number(max)) or n * max > MAX_STEPS:
        raise RenderLimit(f"lipsum({n}, …, max={max}) would write more than {MAX_STEPS:,} words")
    return generate_lorem_ipsum(n, html, min, max)


# ---------------------------------------------------------------- loops and `~`, counted


def _loop(iterable: Iterable[Any], literal: int) -> Iterator[Any]:
    """A `{% for %}`'s items, each a step; `literal` is the fixed text its body writes per round."""
    for item in iterable:
        _step()
        if literal:
            _work(literal)
        yield item


def _concat(parts: list[Any]) -> str:
    """`a ~ b`: the sizes are added up before the text is made (a doubling in a loop stops at the limit)."""
    for part in parts:
        _check_written("this `~`", part)
    texts = [p if isinstance(p, str) else str(p) for p in parts]
    size = sum(len(t) for t in texts)
    if size > MAX_CHARS:
        raise _too_large("this `~`", size)
    _work(size)
    return "".join(texts)


def _literal_size(body: list[nodes.Node]) -> int:
    """The fixed text a loop body writes each round, not counting inner loops (they count their own)."""
    total = 0
    stack: list[nodes.Node] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif isinstance(node, nodes.For):
            continue
        else:
            stack.extend(node.iter_child_nodes())
    return total


class _Counting:
    """Rewrites a parsed template so loops and `~` go through the budget (see `BoundedSandbox._generate`)."""

    def rewrite(self, node: nodes.Node) -> None:
        for child in list(node.iter_child_nodes()):
            self.rewrite(child)
        for field in node.fields:
            value = getattr(node, field, None)
            if isinstance(value, nodes.Concat):
                setattr(node, field, self._concat(value))
            elif isinstance(value, list):
                setattr(node, field, [self._concat(v) if isinstance(v, nodes.Concat) else v for v in value])
        if isinstance(node, nodes.For):
            size = _literal_size(node.body)
            node.iter = nodes.Filter(node.iter, "_lab_loop", [nodes.Const(size)], [], None, None, lineno=node.lineno)

    @staticmethod
    def _concat(node: nodes.Concat) -> nodes.Filter:
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), "_lab_concat", [], [], None, None, lineno=node.lineno)


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with the bounds of this module on every operation that can grow a value."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.filters = {name: _bounded_filter(name, fn) for name, fn in self.filters.items()}
        self.filters["_lab_loop"] = _loop
        self.filters["_lab_concat"] = _concat
        self.finalize = _placed

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False) -> str:
        # Jinja's documented hook before code generation: loops and `~` are rewritten to count
        _Counting().rewrite(source)
        return super()._generate(source, name, filename, defer_init)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            if _number(left) and _number(right) and left.bit_length() + right.bit_length() > MAX_DIGITS * _BITS_PER_DIGIT:
                raise RenderLimit(f"this `*` would make a number of more than {MAX_DIGITS:,} digits")
            for sized, times in ((left, right), (right, left)):
                if _size(sized) is not None and _number(times) and _size(sized) * times > MAX_CHARS:  # type: ignore[operator]
                    raise _too_large(f"`*` ({len(sized):,} × {times:,})", len(sized) * times)
                if isinstance(sized, (list, tuple)) and _number(times) and times > 1:  # items that are lists themselves count whole
                    written = _written_size(sized, MAX_CHARS // times + 1)
                    if written * times > MAX_CHARS:
                        raise _too_large(f"`*` ({written:,} written characters × {times:,})", written * times)
        elif operator == "**":
            if _number(left) and _number(right) and abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_DIGITS:
                raise RenderLimit(f"{left} ** {right} has more than {MAX_DIGITS:,} digits")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        elif operator == "+" and _size(left) is not None and _size(right) is not None:
            if _size(left) + _size(right) > MAX_CHARS:  # type: ignore[operator]
                raise _too_large("this `+`", _size(left) + _size(right))  # type: ignore[operator]
        return _check_result(f"`{operator}`", super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's own signature)
        _step()
        _check_method(__obj, args, kwargs)
        return _check_result("this call", super().call(__context, __obj, *args, **kwargs))


def _placed(value: Any) -> Any:
    """Every `{{ }}` value, counted as it is written out."""
    _check_written("placing this value", value)
    size = _size(value)
    if size:
        _work(size)
    return value
