"""The trainer's review of what a judge decided in a graded cohort: the queue of judged outputs, each
decision committed to `DIR/cohort.db` at once, and how often trainer and judge agree (Cohen's kappa).

A judged output is one result of a criterion whose check consulted a judge model (`details["judge"]`
in the stored result): `judge`, and `refusal` / `consistent` when they asked one. The queue puts the
least confident verdicts first: those on a graded scale (1-5, 0-10) by the distance of the judge's
score from the pass threshold, closest first; then the pass/fail ones and those the judge could not
decide, in cohort order. The exchanges shown are the stored consultations (messages and answer), each
matched to its row of the `calls` table, which keeps the answer alone under a hash of the request.
"""

from __future__ import annotations

import getpass
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lab.classroom.cohort import CohortStore
from lab.classroom.overrides import GROUP_CASE, SCALE_RANGE, normalise, on_scale, trainer_verdict
from lab.classroom.records import Review
from lab.errors import LabError
from lab.format.conversation import Transcript

UNTRUSTED_KAPPA = 0.4  # below this over enough reviews, the judge and the trainer read the rubric differently
UNTRUSTED_MIN_REVIEWS = 10


@dataclass(frozen=True)
class Exchange:
    messages: list[dict[str, Any]]
    answer: str
    call: str | None  # the `calls` row holding this answer (None: not found there)


@dataclass(frozen=True)
class ReviewItem:
    result_id: int
    learner: str
    exercise: str
    criterion: str
    check: str
    case: str  # `*`: a check over every output at once
    sample: int
    scale: str
    threshold: float  # 0..1, as the grader compares
    judge_passed: bool | None  # None: the judge gave no usable answer
    judge_score: float | None  # on the scale
    reason: str
    output: str
    rubric: str  # what the judge was asked, without the output
    feedback: str | None
    exchanges: tuple[Exchange, ...]
    review: Review | None = None
    pair: bool = False  # an arena pair's verdict (`result_id` is the pair's id): lab/classroom/arena.py
    graded_at: str | None = None  # when the grading shown was made: a decision is saved onto that grading only

    @property
    def key(self) -> tuple[int, str, str, int]:
        return (self.result_id, self.criterion, self.case, self.sample)

    @property
    def scored(self) -> bool:
        return self.scale != "pass-fail" and self.judge_score is not None

    @property
    def distance(self) -> float | None:
        """How far the judge's score is from the pass threshold (0..1); None without a graded scale."""
        return abs(normalise(self.judge_score, self.scale) - self.threshold) if self.scored and self.judge_score is not None else None

    @property
    def verdict(self) -> str:
        if self.judge_passed is None:
            return "ungraded"
        label = "pass" if self.judge_passed else "fail"
        if self.scale == "pass-fail" or self.judge_score is None:
            return label
        return f"{label} ({_number(self.judge_score)} on {self.scale})"

    @property
    def low_high(self) -> tuple[int, int]:
        return SCALE_RANGE.get(self.scale, (0, 1))


def _number(value: float) -> str:
    return f"{value:g}"


def reviewer_name() -> str:
    """LAB_LEARNER or the config file's `learner` (the trainer's own name), else the OS user name."""
    from lab.settings.config import load_settings

    try:
        name = load_settings().learner
    except LabError:
        name = None
    if name and name.strip():
        return name.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container) and no LOGNAME
        return "trainer"


def _consultations(details: dict[str, Any] | None) -> list[dict[str, Any]]:
    judged = (details or {}).get("judge")
    return judged if isinstance(judged, list) else [judged] if isinstance(judged, dict) else []


def _rubric_text(exchanges: list[Exchange]) -> str:
    """The judge's instructions as sent, cut before the fenced output (the rubric, scale or question)."""
    for exchange in exchanges:
        for message in exchange.messages:
            text = str(message.get("content") or "")
            if message.get("role") == "user" and "<candidate-" in text:
                for marker in ("The output to grade:", "The output:"):
                    if marker in text:
                        return text.split(marker, 1)[0].strip()
                return text.split("<candidate-", 1)[0].strip()
    return ""


def _output_of(result: dict[str, Any], case: str, sample: int) -> str:
    cases = result.get("cases", [])
    if case == GROUP_CASE:
        return "\n\n".join(f"[{c['name']} #{i + 1}] {o}" for c in cases for i, o in enumerate(c.get("outputs", [])))
    for c in cases:
        if c.get("name") == case:
            conversations = c.get("conversations") or []
            if sample < len(conversations):  # a conversation: the judged answer with what came before it
                return Transcript.from_json(conversations[sample]).text()
            outputs = c.get("outputs", [])
            return str(outputs[sample]) if sample < len(outputs) else ""
    return ""


def queue(store: CohortStore) -> list[ReviewItem]:
    """Every judged output of the cohort, least confident first, each with its latest review; then the arena
    pairs a judge decided (lab/classroom/arena.py), in the same order among themselves."""
    from lab.classroom.arena import ArenaStore

    reviews = {r.key: r for r in store.reviews()}
    scored: list[ReviewItem] = []
    rest: list[ReviewItem] = []
    for row in store.results(reviewed=False):
        if row.result is None or row.status not in ("graded", "ungraded"):
            continue
        for item in _judged(row.id, row.learner, row.exercise, row.result, lambda: store.calls(row.id), reviews, graded_at=row.graded_at):
            (scored if item.scored else rest).append(item)
    scored.sort(key=_confidence)
    arena = ArenaStore(store)
    pair_reviews = {r.key: r for r in arena.reviews()}
    pair_scored: list[ReviewItem] = []
    pair_rest: list[ReviewItem] = []
    for pair in arena.all_pairs():
        if pair.result is None or pair.status not in ("graded", "ungraded"):
            continue
        learner, exercise = f"{pair.attacker} → {pair.defender}", f"arena {pair.arena} · {pair.defence_exercise}"
        for item in _judged(pair.id, learner, exercise, pair.result, lambda: arena.calls(pair.id), pair_reviews, pair=True,
                            graded_at=pair.played_at):
            (pair_scored if item.scored else pair_rest).append(item)
    pair_scored.sort(key=_confidence)
    return scored + rest + pair_scored + pair_rest


def _confidence(item: ReviewItem) -> tuple[Any, ...]:
    return (item.distance, item.learner, item.exercise, item.criterion, item.case, item.sample)


def _judged(result_id: int, learner: str, exercise: str, result: dict[str, Any], calls: Any,
            reviews: dict[tuple[int, str, str, int], Review], pair: bool = False, graded_at: str | None = None) -> list[ReviewItem]:
    """The judged outputs of one stored grading (a result, or an arena pair's)."""
    found = []
    answers: dict[str, str] | None = None
    for criterion in result.get("criteria", []):
        for r in criterion.get("results", []):
            consultations = _consultations(r.get("details"))
            if not consultations:
                continue
            if answers is None:
                answers = {c.text: call for call, c in calls().items() if call.startswith("judge:")}
            exchanges = [Exchange(list(e.get("messages", [])), str(e.get("answer", "")), answers.get(str(e.get("answer", ""))))
                         for c in consultations for e in c.get("exchanges", [])]
            first = consultations[0]
            scale = str(first.get("scale") or "pass-fail")
            ungraded = bool(r.get("ungraded"))
            grade = first.get("grade")
            judge_score = None if ungraded else float(grade) if isinstance(grade, int | float) else on_scale(float(r["score"]), scale)
            case, sample = str(r.get("case")), int(r.get("sample", 0))
            found.append(ReviewItem(
                result_id, learner, exercise, criterion["id"], str(criterion.get("check", "")), case, sample, scale,
                float(first.get("threshold", 1.0 if scale == "pass-fail" else 0.5)), None if ungraded else bool(r.get("passed")),
                judge_score, str(r.get("reason", "")), _output_of(result, case, sample), _rubric_text(exchanges),
                criterion.get("feedback"), tuple(exchanges), reviews.get((result_id, criterion["id"], case, sample)), pair, graded_at))
    return found


def decide(store: CohortStore, item: ReviewItem, decision: str, *, passed: bool | None = None, score: float | None = None,
           note: str | None = None, reviewer: str | None = None) -> Review:
    """Record the trainer's decision on one item (committed at once). An override needs `passed` or a
    `score` on the criterion's scale; a score alone passes when it reaches the criterion's threshold.
    Without a new `note` the item's earlier note is kept."""
    low, high = item.low_high
    if decision == "confirm" and item.judge_passed is None:
        raise LabError("The judge gave no verdict to confirm here: override it as a pass or a fail instead.")
    if decision == "override":
        if score is not None:
            if not low <= score <= high:
                raise LabError(f"A score on the {item.scale} scale is from {low} to {high}; {_number(score)} is outside it.")
            if passed is None:
                passed = normalise(score, item.scale) >= item.threshold - 1e-9
        if passed is None:
            raise LabError("An override needs a verdict: a pass, a fail, or a score on the criterion's scale.")
    elif decision in ("confirm", "skip"):
        passed, score = None, None
    if note is None and item.review is not None:
        note = item.review.note
    note = note.strip() if note and note.strip() else None
    record = store.record_review
    if item.pair:
        from lab.classroom.arena import ArenaStore

        record = ArenaStore(store).record_review
    return record(item.result_id, item.criterion, item.case, item.sample, scale=item.scale, judge_passed=item.judge_passed,
                  judge_score=item.judge_score, decision=decision, trainer_passed=passed, trainer_score=score,
                  note=note, reviewer=reviewer or reviewer_name(), graded_at=item.graded_at)


# ---------------------------------------------------------------- agreement


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> tuple[float | None, str | None]:
    """Cohen's kappa of (judge, trainer) pass/fail labels, or None and why when it is undefined
    (no pairs, or both always gave one same label: chance alone would agree every time)."""
    n = len(pairs)
    if n == 0:
        return None, "nothing reviewed yet"
    observed = sum(1 for a, b in pairs if a == b) / n
    judge_pass = sum(1 for a, _ in pairs if a) / n
    trainer_pass = sum(1 for _, b in pairs if b) / n
    expected = judge_pass * trainer_pass + (1 - judge_pass) * (1 - trainer_pass)
    if expected >= 1 - 1e-12:
        label = "pass" if judge_pass else "fail"
        return None, f"undefined: judge and trainer both said {label} every time, so chance alone agrees fully"
    return (observed - expected) / (1 - expected), None


@dataclass(frozen=True)
class Agreement:
    exercise: str
    criterion: str
    reviewed: int
    agreed: int
    kappa: float | None
    why: str | None = None  # why kappa is null
    judged: int = 0  # judged outputs of this criterion in the cohort

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None

    @property
    def untrusted(self) -> bool:
        """The rubric text needs rewriting: judge and trainer disagree beyond chance over enough reviews."""
        return self.kappa is not None and self.kappa < UNTRUSTED_KAPPA and self.reviewed >= UNTRUSTED_MIN_REVIEWS

    def as_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "criterion": self.criterion, "reviewed": self.reviewed,
                "agreement": None if self.agreement is None else round(self.agreement, 4),
                "kappa": None if self.kappa is None else round(self.kappa, 4), "untrusted": self.untrusted,
                "kappa_note": self.why, "judged": self.judged}


def agreement(store: CohortStore, items: list[ReviewItem] | None = None) -> list[Agreement]:
    """Per (exercise, criterion) with judged outputs: confirms and overrides of a judge verdict
    (skips and reviews of outputs the judge could not decide are not agreement data)."""
    items = queue(store) if items is None else items
    pairs: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    judged: dict[tuple[str, str], int] = defaultdict(int)
    for item in items:
        key = (item.exercise, item.criterion)
        judged[key] += 1
        review = item.review
        if review is None or review.decision == "skip" or review.judge_passed is None:
            continue
        pairs[key].append((review.judge_passed, trainer_verdict(review)[1]))
    out = []
    for key in sorted(judged):
        labels = pairs.get(key, [])
        kappa, why = cohen_kappa(labels)
        out.append(Agreement(key[0], key[1], len(labels), sum(1 for a, b in labels if a == b), kappa, why, judged[key]))
    return out


@dataclass
class Session:
    """Where a trainer is in the queue (the review screen's state, engine-side so the CLI could share it)."""

    store: CohortStore
    items: list[ReviewItem]
    index: int = 0
    reviewer: str = field(default_factory=reviewer_name)

    @classmethod
    def open(cls, store: CohortStore) -> "Session":
        items = queue(store)
        first = next((i for i, item in enumerate(items) if item.review is None), 0)  # go on where the last session stopped
        return cls(store, items, first)

    @property
    def current(self) -> ReviewItem | None:
        return self.items[self.index] if self.items else None

    @property
    def position(self) -> str:
        return f"{self.index + 1} / {len(self.items)}" if self.items else "0 / 0"

    @property
    def reviewed(self) -> int:
        return sum(1 for i in self.items if i.review is not None and i.review.decision != "skip")

    def decide(self, decision: str, *, passed: bool | None = None, score: float | None = None, note: str | None = None,
               advance: bool = True) -> Review:
        item = self.current
        if item is None:
            raise LabError("There is nothing to review in this cohort.")
        review = decide(self.store, item, decision, passed=passed, score=score, note=note, reviewer=self.reviewer)
        self.items[self.index] = _with_review(item, review)
        if advance:
            self.forward()
        return review

    def note(self, text: str) -> Review | None:
        """Attach a note to the current item's decision (kept for the next one when there is none yet)."""
        item = self.current
        if item is None or item.review is None:
            return None
        r = item.review
        return self.decide(r.decision, passed=r.trainer_passed, score=r.trainer_score, note=text, advance=False)

    def forward(self) -> None:
        if self.items and self.index < len(self.items) - 1:
            self.index += 1

    def back(self) -> None:
        if self.index > 0:
            self.index -= 1


def _with_review(item: ReviewItem, review: Review) -> ReviewItem:
    from dataclasses import replace

    return replace(item, review=review)
