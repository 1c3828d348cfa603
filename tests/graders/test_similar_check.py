"""`similar`: ROUGE-L and a character ratio, computed locally."""

from __future__ import annotations

import pytest

from graders import CheckContext, get_check
from graders.similar import SimilarParams, lcs_length, ratio, rouge_l

similar = get_check("similar").fn


def test_lcs_and_rouge_l_by_hand():
    assert lcs_length("a b c d".split(), "a c d e".split()) == 3
    # candidate 6 tokens, reference 6 tokens, LCS "the cat on the mat" = 5 -> P = R = F = 5/6
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("completely different words", "nothing shared here") == 0.0
    assert rouge_l("Paris.", "paris") == 1.0


def test_ratio_ignores_case_and_punctuation():
    assert ratio("The cat sat!", "the cat sat") == 1.0
    assert 0 < ratio("kitten", "sitting") < 1


def test_pass_and_partial_credit():
    p = SimilarParams(reference="The meeting moves to Thursday at ten.", threshold=0.6)
    ok = similar("The meeting is moved to Thursday at ten.", p, CheckContext())
    assert ok.passed and ok.score == 1 and "ROUGE-L" in ok.reason and "60% needed" in ok.reason
    low = similar("Lunch is cancelled.", p, CheckContext())
    assert not low.passed and low.score == 0 and low.reason == "The output is only 0% similar to the reference (ROUGE-L); 60% is needed."
    half = similar("The meeting.", p, CheckContext())
    assert not half.passed and 0 < half.score < 1
    assert half.details["similarity"] == pytest.approx(rouge_l("The meeting.", p.reference), abs=1e-4)


def test_ratio_method_and_validation():
    p = SimilarParams(reference="colour", threshold=0.8, method="ratio")
    assert similar("color", p, CheckContext()).passed
    with pytest.raises(ValueError):
        SimilarParams(reference="x", threshold=1.2)
    with pytest.raises(ValueError):
        SimilarParams(reference="x", method="bleu")
    with pytest.raises(ValueError, match="at least one word"):
        SimilarParams(reference="...")
