"""Plain-text rendering for the CLI: grades, tables, colours only on a terminal."""

from __future__ import annotations

import gettext
import json
import math
import os
import sys
from typing import Any, Sequence, TextIO

from lab.settings.i18n import ENGLISH, N_


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class Paint:
    def __init__(self, stream: TextIO | None = None):
        self.on = use_colour(stream or sys.stdout)

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def good(self, text: str) -> str:
        return self(text, "32")

    def bad(self, text: str) -> str:
        return self(text, "31")

    def warn(self, text: str) -> str:
        return self(text, "33")

    def dim(self, text: str) -> str:
        return self(text, "2")

    def bold(self, text: str) -> str:
        return self(text, "1")

    def prefill(self, text: str) -> str:
        """The prefill at the start of an answer: between ⟦ ⟧ (plain text keeps the mark), underlined on a terminal."""
        return self(f"⟦{text}⟧", "4")


def money(amount: float) -> str:
    """US dollars as the lab writes a cost: four decimals, six under a cent (a call to a cheap model)."""
    return f"${amount:.4f}" if amount == 0 or amount >= 0.01 else f"${amount:.6f}"


def score_label(score: float, passed: bool, pass_mark: float = 1.0) -> str:
    """A score to two decimals that never reads as a pass when it is not one: a failing score that would
    round up to its pass mark (1.00 for a criterion) is rounded down instead (799 words of 800 score
    0.99875, which rounded would print as the 1.00 of a pass)."""
    shown = f"{score:.2f}"
    if passed or float(shown) < pass_mark - 1e-9:
        return shown
    return f"{math.floor(score * 100 + 1e-9) / 100:.2f}"


def cached_note(result: dict[str, Any], tr: gettext.NullTranslations = ENGLISH) -> str | None:
    """What the grade says when the response cache answered (all of the attempt's calls, or some), else None."""
    if result.get("cached"):
        return tr.gettext("Cached: every answer came from the response cache (no call made, nothing charged).")
    n = int(result.get("cached_calls") or 0)
    if n:
        return tr.ngettext("{n} answer came from the response cache (no call, no charge).",
                           "{n} answers came from the response cache (no call, no charge).", n).format(n=n)
    return None


def mark(passed: bool, ungraded: bool, paint: Paint) -> str:
    if ungraded:
        return paint.warn("?")
    return paint.good("✓") if passed else paint.bad("✗")


def grade_lines(result: dict[str, Any], paint: Paint, tr: gettext.NullTranslations = ENGLISH) -> list[str]:
    """The rubric of a result as `lab run --json` prints it and the store keeps it, in the words of `tr`
    (the exercise's language)."""
    t = tr
    lines = []
    for c in result["criteria"]:
        extra = paint.warn("  " + t.gettext("unstable: passed {share} of samples").format(share=f"{c['pass_rate']:.0%}")) if c.get("unstable") else ""
        score = score_label(float(c["score"]), bool(c["passed"]))
        lines.append(f" {mark(c['passed'], c.get('ungraded', False), paint)} {c['id']:<24} {score:>5}  ×{c['weight']:g}  {c['reason']}{extra}")
        if advice_applies(c):
            lines.append(f"   {'':<24}              {paint.dim('→ ' + c['feedback'])}")
    verdict = paint.good(t.gettext("PASSED")) if result["passed"] else paint.bad(t.gettext("NOT PASSED"))
    lines.append(t.gettext("Score {score} (pass mark {pass_mark}): {verdict}").format(
        score=score_label(float(result["score"]), bool(result["passed"]), float(result["pass_mark"])),
        pass_mark=f"{result['pass_mark']:.2f}", verdict=verdict))
    ungraded = [c["id"] for c in result["criteria"] if c.get("ungraded")]
    if ungraded:
        lines.append(paint.warn(t.gettext("Ungraded (counted as 0): {criteria}").format(criteria=", ".join(ungraded))))
    note = cached_note(result, t)
    if note:
        lines.append(paint.warn(note))
    note = builtin_note(result, t)
    if note:
        lines.append(paint.dim(note))
    return lines


def builtin_note(result: dict[str, Any], tr: gettext.NullTranslations = ENGLISH) -> str | None:
    """One sentence under a grade whose answers came from the built-in offline model (None otherwise): its size
    is the reason a strong prompt may still fail, which the learner must not take for a weak prompt."""
    from lab.models.local import is_builtin  # not at import: the catalog's first frame imports this module

    if not is_builtin(result.get("model")):
        return None
    return tr.gettext("Answered by the built-in model, a very small model: a strong prompt may still fail.")


def advice_applies(criterion: dict[str, Any]) -> bool:
    """Whether a criterion's fail advice (`feedback`) is for this grade: it failed on an output that was
    graded. A criterion no judge could grade did not fail, and the author's advice would mislead."""
    if criterion.get("passed") or not criterion.get("feedback"):
        return False
    results = criterion.get("results")
    if results is None:  # a summary without per-output results: its verdict is all there is
        return not criterion.get("ungraded")
    return any(not r.get("passed") and not r.get("ungraded") for r in results)


ROLE_WORDS = {"system": N_("system"), "user": N_("user"), "assistant": N_("assistant")}
ANSWER_WORD = N_("answer")


def message_label(message: Any, tr: gettext.NullTranslations = ENGLISH) -> str:
    """What a conversation shows above a message: its role, and whose text it is (the learner's own, or the
    exercise's with the learner's inside it), or that it is the model's answer (cut off at the token limit)."""
    t = tr
    if message.author == "model":
        return t.gettext("answer · cut off") if message.cut_off else t.gettext(ANSWER_WORD)
    role = t.gettext(ROLE_WORDS.get(message.role, message.role))
    if message.author == "learner":
        return t.gettext("{role} · yours").format(role=role)
    if message.text:
        return t.gettext("{role} · with yours").format(role=role)
    return role


def answer_text(message: Any, paint: Paint) -> str:
    """An answer with its prefill marked: ⟦prefill⟧ then the model's words."""
    if message.prefill and message.content.startswith(message.prefill):
        return paint.prefill(message.prefill) + message.content[len(message.prefill):]
    return message.content


RESULT_WIDTH = 100  # a tool's result shown collapsed: one line of at most this many characters


def one_line(text: str, width: int = RESULT_WIDTH) -> str:
    """A text collapsed to one line: its line ends shown as ⏎, clipped with an ellipsis."""
    flat = " ⏎ ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return clip(flat, width)


def collapsed(text: str, width: int = RESULT_WIDTH) -> bool:
    """Whether `one_line` leaves something out."""
    return one_line(text, width) != text.strip()


def tool_lines(message: Any, paint: Paint, tr: gettext.NullTranslations = ENGLISH, opened: bool = False) -> list[str]:
    """The tool part of a message: each call of a model message with its arguments (`[call]`), or a tool's
    answer (`[result · name]`) on one line, or whole when `opened`."""
    t = tr
    if message.role == "tool":
        label = t.gettext("result · {tool} · refused") if message.error else t.gettext("result · {tool}")
        head = paint.bold(f"[{label.format(tool=message.tool)}]")
        if opened:
            return [head, message.content]
        text = one_line(message.content)
        return [f"{head} {paint.bad(text) if message.error else text}"]
    label = t.gettext("call · not answered: the rounds ran out") if message.cut_off else t.gettext("call")
    return [f"{paint.bold('[' + label + ']')} {c.shown()}" for c in message.calls]


def conversation_lines(messages: Sequence[Any], paint: Paint, tr: gettext.NullTranslations = ENGLISH,
                       opened: bool = False) -> list[str]:
    """A conversation as `lab run`, `lab show` and `lab attempt` print it: each message under `[its label]`,
    the exercise's own messages dimmed, the prefill marked ⟦ ⟧ at the start of the answer, each tool call with its
    arguments and each tool's result on one line (whole when `opened`)."""
    lines = []
    for m in messages:
        label = f"[{message_label(m, tr)}]"
        if m.role == "tool":
            lines += tool_lines(m, paint, tr, opened)
        elif m.author == "model" and m.calls:
            if m.content or m.cut_off:
                said = [answer_text(m, paint)] if m.content else []
                lines += [paint.bold(label), *said] if m.cut_off else [paint.bold(f"[{tr.gettext(ROLE_WORDS['assistant'])}]"), m.content]
            lines += tool_lines(m, paint, tr, opened)
        elif m.author == "model":
            lines += [paint.bold(label), answer_text(m, paint)]
        elif m.prefill:  # a prefill not answered yet (`lab show`): the answer starts with it
            lines += [paint.bold(f"[{tr.gettext(ANSWER_WORD)}]"), paint.prefill(m.content) + "…"]
        elif m.author == "learner" or m.text:
            lines += [paint.bold(label), m.content]
        else:
            lines += [paint.dim(label), paint.dim(m.content)]
    return lines


def tool_summary(tool: Any) -> str:
    """A tool in one line: `name(arg: type, other?: type)`, an argument it may leave out marked `?`."""
    schema = tool.parameters if isinstance(tool.parameters, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    args = []
    for name, sub in properties.items():
        kind = sub.get("type", "any") if isinstance(sub, dict) else "any"
        kind = "|".join(kind) if isinstance(kind, list) else str(kind)
        if isinstance(sub, dict) and isinstance(sub.get("enum"), list):
            kind = "|".join(json.dumps(v, ensure_ascii=False) for v in sub["enum"])
        args.append(f"{name}{'' if name in required else '?'}: {kind}")
    return f"{tool.name}({', '.join(args)})"


def tools_lines(tools: Sequence[Any], paint: Paint, tr: gettext.NullTranslations = ENGLISH) -> list[str]:
    """The tools an exercise gives the model, as `lab show` lists them: each signature, then its description."""
    lines = [paint.dim(tr.gettext("The model may call these tools; the lab answers each call (an argument marked ? may be left out)."))]
    for tool in tools:
        lines += ["", paint.bold(tool_summary(tool)), tool.description.strip()]
    return lines


PREFILL_LEGEND = N_("⟦…⟧ marks a prefill: the start of the answer, written for the model, which continues it.")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    return fitted_table(rows, headers)


def fitted_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int | None = None,
                 shrink: Sequence[tuple[str, int]] = (), indent: Sequence[str] | None = None) -> list[str]:
    """A plain table; with a width, the `shrink` columns (header, narrowest) give up room, in order, with an
    ellipsis, so that every line fits. `indent[n]` is a prefix for data row n (a group's rows, a heading)."""
    cells = [[str(h) for h in headers]] + [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    pad = max((len(i) for i in indent), default=0) if indent else 0
    if width is not None:
        over = pad + sum(widths) + 2 * (len(widths) - 1) - width
        for header, narrowest in shrink:
            if over <= 0:
                break
            i = list(headers).index(header)
            give = min(over, max(0, widths[i] - max(narrowest, len(header))))
            widths[i] -= give
            over -= give
    out = []
    for n, row in enumerate(cells):
        prefix = (indent[n - 1] if indent and n else "").ljust(pad)
        out.append(prefix + "  ".join(clip(v, widths[i]).ljust(widths[i]) for i, v in enumerate(row)).rstrip())
        if n == 0:
            out.append(" " * pad + "  ".join("-" * w for w in widths))
    return out


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def output_width(stream: TextIO | None = None) -> int | None:
    """The width to fit a table to: the terminal's (or COLUMNS'), and none when the output is a file or a pipe,
    which gets every column whole."""
    import shutil

    if os.environ.get("COLUMNS", "").isdigit() or (stream or sys.stdout).isatty():
        return shutil.get_terminal_size().columns
    return None
