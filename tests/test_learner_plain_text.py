"""A learner's text without template syntax is rendered without compiling it (lab/format/templating.py,
`plain_text`): the same text Jinja gives back, for any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.format.templating import _learner_env, plain_text, render_learner_text

PIECES = st.sampled_from(["\n", "\r", "\r\n", "\n\n", " ", "\t", "%}", "}}", "#}", "é", "\x00", "\u2028", "text", "line"])


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.one_of(PIECES, st.text(alphabet=st.characters(blacklist_characters="{"), max_size=10)), max_size=12).map("".join))
def test_a_text_without_braces_renders_as_jinja_would_render_it(text: str):
    assert plain_text(text) == _learner_env.from_string(text).render({})
    assert render_learner_text(text, {"email": "x"}) == plain_text(text)
