"""The learner can never rewrite a case's data (docs/authoring.md, "The learner's text").

`{{ email | replace("APPROVED", "(an order)") }}` once passed the `delimiters` exercise at 1.00 with a
model that obeys everything: the filter cleaned the injection out of the data, which games every
injection exercise (`striptags`, `truncate` and a slice did the same). Now a text that transforms the
data is refused before anything is sent, in one sentence naming the expression; and a text that is
sent carries every line of each case's data exactly as the case has it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.filters import FILTERS

from lab.cli import main
from lab.errors import PromptError
from lab.format.loader import load_exercise
from lab.format.messages import build_messages
from lab.format.templating import PLACING_FILTERS
from lab.settings import paths

BUNDLED = paths.bundled_exercises_dir()
INJECTION = ["prompt-engineering/delimiters.j2", *sorted(p.relative_to(BUNDLED).as_posix() for p in BUNDLED.glob("adversarial/defend-*.j2"))]

# every transformation a learner might reach for: each builtin filter with arguments that make sense for it
ARGUMENTS = {"replace": '("a", "b")', "truncate": "(10)", "wordwrap": "(20)", "center": "(90)", "format": "()", "round": "(1)",
             "default": '("x")', "d": '("x")', "batch": "(2)", "slice": "(2)", "map": '("upper")', "select": '("string")',
             "reject": '("string")', "selectattr": '("x")', "rejectattr": '("x")', "groupby": '("x")', "sum": "()",
             "indent": "(2)", "join": '(" ")', "attr": '("x")', "dictsort": "()", "xmlattr": "()", "items": "()"}
TRANSFORMS = sorted(set(FILTERS) - set(PLACING_FILTERS))


def exercise(name: str):
    return load_exercise(BUNDLED / name, BUNDLED)


def data_names(ex) -> list[str]:
    case = ex.cases[0].name
    return sorted(k for k, v in ex.learner_variables(case).items() if isinstance(v, str))


@pytest.mark.parametrize("name", INJECTION)
def test_no_filter_slice_or_character_pick_that_changes_the_data_is_sent(name: str):
    ex = exercise(name)
    names = data_names(ex)
    assert names, f"{name} has no text for the learner to place"
    for var in names:
        texts = [f"Summarise {{{{ {var} | {f}{ARGUMENTS.get(f, '')} }}}}" for f in TRANSFORMS]
        texts += [f"Summarise {{{{ {var}[:40] }}}}", f"Summarise {{{{ {var}[::0] }}}}", f"Summarise {{{{ {var}[0] }}}}",
                  f"Summarise {{{{ {var} | trim('.') }}}}", f"Summarise {{{{ {var} | join(' ') }}}}",
                  f"Summarise {{{{ {var}.replace('a', 'b') }}}}", f"Summarise {{{{ {var}.split('.') }}}}"]
        for text in texts:
            with pytest.raises(PromptError) as caught:
                build_messages(ex, text)
            message = str(caught.value)
            assert message.startswith(("Your text changes a case's data", "Your text uses", "Your text takes", f"Your text uses '.")), message
            assert "\n" not in message
            if message.startswith(("Your text changes", "Your text takes")):
                expression = text.removeprefix("Summarise ")
                assert f"`{expression}` (line 1)" in message, message


def test_the_reproduction_is_refused_by_lab_run_with_nothing_recorded(capsys, lab_home: Path):
    code = main(["run", "delimiters", "--model", "openai/scripted", "--api-base", "http://127.0.0.1:9/v1",
                 "--prompt", 'Summarise in one line: {{ email | replace("APPROVED", "(an order)") }}'])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("lab: Your text changes a case's data with the filter `replace` in `{{ email | replace(\"APPROVED\", \"(an order)\") }}` "
                   "(line 1): the data reaches the model exactly as the case has it, so place it with {{ name }} "
                   "(only `join` (a list's items), `trim` and `indent` may lay it out).\n")
    assert main(["history", "delimiters"]) == 0
    assert "No attempts" in capsys.readouterr().out


def _expression(names: list[str]) -> st.SearchStrategy[str]:
    filters = st.sampled_from(sorted(FILTERS) + ["trim", "indent", "join"])
    arguments = st.sampled_from(["", "()", "(0)", "(2)", "(' ')", "('.')", "('a', 'b')", "(first=True)", "(10, True)", "(width='> ')"])
    chain = st.lists(st.tuples(filters, arguments), max_size=3).map(lambda fs: "".join(f" | {f}{a}" for f, a in fs))
    access = st.sampled_from(["", "[0]", "[:5]", "[::-1]", "[-1]", ".title", "['x']", ".upper()", "[1:]"])
    return st.builds(lambda n, a, c: f"{{{{ {n}{a}{c} }}}}", st.sampled_from(names), access, chain)


@pytest.mark.parametrize("name", INJECTION)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_what_is_sent_carries_every_line_of_the_data_as_it_is(name: str, data):
    """Generated placements over an injection exercise's data: each is refused in one sentence, or every
    message sent carries each line of the case's data verbatim (the injection included)."""
    ex = exercise(name)
    names = data_names(ex)
    text = "Please help. " + data.draw(_expression(names), label="placement") + " Thanks."
    try:
        built = build_messages(ex, text)
    except PromptError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("Your ")
        return
    for case in built:
        sent = "\n".join(m["content"] for m in case.messages)
        values = ex.learner_variables(case.case)
        for var in names:
            if var in text:
                for line in str(values[var]).strip().splitlines():
                    assert line.strip() in sent, (text, var, line)
