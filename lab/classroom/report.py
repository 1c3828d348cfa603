"""`DIR/report.html`: one self-contained page about a graded cohort, drawn from `cohort.db` alone.

No script, no font, no stylesheet or image is fetched: the CSS is inline and the charts are inline SVG,
so the file opens offline and can be mailed as it is. Every text from a submission is escaped, and the
control characters a browser would choke on are shown as symbols (a NUL never reaches the file).

Built in one pass: a few aggregate queries first, then the results stream by learner and exercise
(`CohortStore.iter_results`), each learner's rows making one line of the matrix and of the mastery
table while the per-criterion, per-exercise and per-class figures add up. The page is written as it
is made (the mastery lines wait in a temporary file, since they come after the criteria), and the
near-identical prompts are found through MinHash bands kept in a temporary SQLite file, so the
report's memory does not grow with the class. Long tables come in pages of `PAGE` learners, each a
`<details>` (the first open): a browser lays out only the pages opened, so the file opens quickly at
10,000 learners.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

from lab.classroom.cohort import CohortStore
from lab.classroom.escaping import e
from lab.classroom.likeness import BANDS, NEAR, bands, hashes, jaccard, read_fingerprint, shingles
from lab.classroom.records import ResultRow
from lab.practice.report import money, score_label
from lab.practice.mastery import DIGITS, MASTERED, PRACTISING, ExerciseInfo, Try, band, credits, skill_order, weighted
from lab.settings.paths import replaced_atomically

REPORT = "report.html"
BUCKET = 2_000  # prompts of one bucket measured against its first: a class whose prompts all look alike stays quick
PAGE = 500  # learners per page of the matrix and of the mastery table
LISTED = 300  # rows listed in the tables of mismatches, skipped lines and results left ungraded

# ---------------------------------------------------------------- near-identical prompts


@dataclass(frozen=True)
class Cluster:
    exercise: str
    learners: tuple[str, ...]
    prompt: str
    similarity: float  # the lowest similarity of the pairs that joined it


class NearIdentical:
    """Groups of different learners whose prompts for one exercise are near-identical (largest first).

    Candidates come from MinHash bands (so a class of a thousand is not a million comparisons); each
    candidate pair is then measured exactly (on the shingles' CRCs), the first BUCKET of a bucket against
    its first. Prompts and bands wait in a temporary SQLite file, not in memory."""

    def __init__(self, threshold: float = NEAR):
        self.threshold = threshold
        self.db = sqlite3.connect("", isolation_level=None)  # "": a private temporary file, gone on close
        bands = ", ".join(f"b{i} INTEGER" for i in range(BANDS))
        self.db.execute(f"CREATE TABLE p (n INTEGER PRIMARY KEY, exercise TEXT, learner TEXT, prompt TEXT, hashes TEXT, {bands})")
        self.db.execute("BEGIN")
        self.pending: list[tuple[Any, ...]] = []

    def add(self, exercise: str, learner: str, prompt: str, fingerprint: str | None = None) -> None:
        """One learner's text; `fingerprint` is its stored one (lab/classroom/likeness.py), else it is worked out here."""
        known = read_fingerprint(fingerprint) if fingerprint else None
        if known is None:
            crcs = hashes(shingles(prompt))
            known = " ".join(map(str, crcs)), bands(crcs)
        self.pending.append((exercise, learner, prompt, known[0], *known[1]))
        if len(self.pending) >= 500:
            self._flush()

    def _flush(self) -> None:
        marks = ", ".join("?" * (4 + BANDS))
        self.db.executemany(f"INSERT INTO p (exercise, learner, prompt, hashes, {', '.join(f'b{i}' for i in range(BANDS))}) VALUES ({marks})",
                            self.pending)
        self.pending = []

    def clusters(self) -> list[Cluster]:
        self._flush()
        parent: dict[int, int] = {}  # only the prompts that joined a group: memory follows what is found, not the class
        lowest: dict[int, float] = {}

        def root(i: int) -> int:
            while parent.get(i, i) != i:
                parent[i] = parent.get(parent[i], parent[i])
                i = parent[i]
            return i

        def shingles_of(n: int) -> frozenset[int]:
            return frozenset(map(int, self.db.execute("SELECT hashes FROM p WHERE n=?", (n,)).fetchone()[0].split()))

        checked: set[tuple[int, int]] = set()  # pairs met in an earlier band; forgotten now and then, to stay bounded
        for number in range(BANDS):
            buckets = self.db.execute(f"SELECT group_concat(n) FROM p GROUP BY exercise, b{number} HAVING COUNT(*) > 1")
            for (members,) in buckets:
                numbers = sorted(int(x) for x in members.split(","))[:BUCKET]
                first = numbers[0]
                first_shingles = shingles_of(first)
                for other in numbers[1:]:  # against the bucket's first: enough to join a group, linear per bucket
                    if (first, other) in checked or root(first) == root(other):
                        continue
                    if len(checked) > 100_000:
                        checked.clear()
                    checked.add((first, other))
                    similarity = jaccard(first_shingles, shingles_of(other))
                    if similarity >= self.threshold:
                        a, b = root(first), root(other)
                        parent[b] = a
                        parent.setdefault(a, a)
                        lowest[a] = min(lowest.get(a, 1.0), lowest.get(b, 1.0), similarity)
        groups: dict[int, list[int]] = defaultdict(list)
        for n in parent:
            groups[root(n)].append(n)
        clusters = []
        for top, members in groups.items():
            members.sort()
            first_row = self.db.execute("SELECT exercise, prompt FROM p WHERE n=?", (members[0],)).fetchone()
            learners = sorted({self.db.execute("SELECT learner FROM p WHERE n=?", (n,)).fetchone()[0] for n in members})
            if len(learners) >= 2:
                clusters.append(Cluster(first_row[0], tuple(learners), first_row[1], lowest.get(top, 1.0)))
        self.db.close()
        return sorted(clusters, key=lambda c: (-len(c.learners), c.exercise))


def near_identical(rows: Iterable[ResultRow], threshold: float = NEAR) -> list[Cluster]:
    found = NearIdentical(threshold)
    for r in rows:
        found.add(r.exercise, r.learner, r.all_text)
    return found.clusters()


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class CriterionRate:
    exercise: str
    id: str
    check: str
    graded: int
    passed: int
    feedback: str | None
    example_reason: str | None
    overridden: int = 0  # submissions whose verdict on this criterion a trainer's review replaced

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


class CriterionRates:
    """Each criterion's pass rate across the class, added up a result at a time."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, r: ResultRow) -> None:
        for c in (r.result or {}).get("criteria", []):
            if c.get("ungraded"):
                continue
            entry = self.seen.get((r.exercise, c["id"]))
            if entry is None:
                entry = self.seen[(r.exercise, c["id"])] = {"check": c.get("check", ""), "graded": 0, "passed": 0, "feedback": None,
                                                            "reason": None, "overridden": 0}
            entry["graded"] += 1
            entry["passed"] += bool(c.get("passed"))
            entry["overridden"] += bool(c.get("overridden"))
            if not c.get("passed"):
                entry["feedback"] = entry["feedback"] or c.get("feedback")
                entry["reason"] = entry["reason"] or c.get("reason")

    def hardest(self) -> list[CriterionRate]:
        rates = [CriterionRate(ex, cid, v["check"], v["graded"], v["passed"], v["feedback"], v["reason"], v["overridden"])
                 for (ex, cid), v in self.seen.items()]
        return sorted(rates, key=lambda c: (c.rate, -c.graded, c.exercise, c.id))


def _shade(score: float | None, passed: bool | None = None) -> str:
    """The CSS class of a score's colour (`_colour`, in eleven steps): `f0` … `f10` a fail, `p0` … `p10` a pass,
    `s0` … `s10` a score with no verdict, `sn` none. Classes, not a style per cell: a class of 10,000 is a big page."""
    if score is None:
        return "sn"
    return f"{'s' if passed is None else 'p' if passed else 'f'}{round(10 * max(0.0, min(1.0, score)))}"


def _colour(score: float | None, passed: bool | None = None) -> str:
    """A score's colour; with its verdict, the verdict first: a fail is red to amber however high it scored
    (a failed 0.87 once looked all but green), a pass green."""
    if score is None:
        return "#e5e7eb"
    share = max(0.0, min(1.0, score))
    if passed is False:
        return f"hsl({round(38 * share)}, 78%, {82 - round(10 * share)}%)"
    if passed is True:
        return f"hsl(122, 52%, {74 - round(12 * share)}%)"
    return f"hsl({round(120 * share)}, 62%, {80 - round(18 * score)}%)"


def _bar(share: float, width: int = 160, label: str = "", text: str | None = None) -> str:
    filled = round(width * max(0.0, min(1.0, share)))
    return (f'<svg class="bar" width="{width + 48}" height="14" role="img" aria-label="{e(label or f"{share:.0%}")}">'
            f'<rect width="{width}" height="14" rx="3" fill="#e5e7eb"/>'
            f'<rect width="{filled}" height="14" rx="3" fill="{_colour(share)}"/>'
            f'<text x="{width + 6}" y="11" font-size="11">{e(text if text is not None else f"{share:.0%}")}</text></svg>')


def _similar(value: float) -> str:
    return "identical" if value >= 0.9999 else f"≥ {value:.0%}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.muted{color:#6b7280}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:8px 14px;min-width:110px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #e5e7eb;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f9fafb;font-weight:600}td.cell{text-align:center;min-width:54px;font-variant-numeric:tabular-nums}
.matrix th.ex{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500}
.scroll{overflow-x:auto}.warn{color:#b45309}.bad{color:#b91c1c}pre{white-space:pre-wrap;margin:0;font:12px ui-monospace,monospace}
.legend span{display:inline-block;width:14px;height:14px;vertical-align:middle;border-radius:3px;margin:0 3px 0 10px}
svg.bar{vertical-align:middle}details>summary{cursor:pointer;margin:6px 0;color:#374151}
""" + "".join(f".{k}{i}{{background:{_colour(i / 10, v)}}}" for k, v in (("s", None), ("f", False), ("p", True)) for i in range(11)) \
    + f".sn{{background:{_colour(None)}}}\n"


# ---------------------------------------------------------------- the page


@dataclass
class _Pass:
    """What the one pass over the results adds up."""

    results: int = 0
    rates: CriterionRates = field(default_factory=CriterionRates)
    skill_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    learners: int = 0
    mismatches: list[ResultRow] = field(default_factory=list)
    mismatch_count: int = 0
    left: list[ResultRow] = field(default_factory=list)
    left_count: int = 0
    tools: list[tuple[ResultRow, str, int, Any]] = field(default_factory=list)  # the first conversations with tool calls
    tools_count: int = 0
    per_exercise: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0, 0]))


def _by_learner(rows: Iterator[ResultRow]) -> Iterator[list[ResultRow]]:
    group: list[ResultRow] = []
    for r in rows:
        if group and group[0].learner != r.learner:
            yield group
            group = []
        group.append(r)
    if group:
        yield group


def _cell(r: ResultRow) -> str:
    mark = {"pending": "…", "failed": "!", "ungraded": "?"}.get(r.status, "✓" if r.passed else "✗")
    mark += " ≠" if r.version_mismatch else ""
    score = "" if r.score is None else f"{score_label(r.score, bool(r.passed), float((r.result or {}).get('pass_mark', 1.0)))} "
    title = r.error or f"{r.learner} · {r.exercise}: {r.status}"
    if r.overridden:  # the trainer's review replaced a judge's verdict (lab review)
        mark += " †"
        title += f"; overridden by the trainer: {', '.join(r.overridden)}"
    verdict = r.passed if r.status == "graded" else None
    return f"<td class=\"cell {_shade(r.score if r.status != 'pending' else None, verdict)}\" title=\"{e(title)}\">{e(score)}{e(mark)}</td>"


def _page(w: Any, number: int, names: tuple[str, str], header: str) -> None:
    first = number * PAGE + 1
    w(f"<details{' open' if number == 0 else ''}><summary>learners {first:,}–{first + PAGE - 1:,} "
      f"({e(names[0])} … {e(names[1])})</summary><div class=\"scroll\"><table class=\"matrix\">{header}")


def write_html(store: CohortStore, out: IO[str], levels: Mapping[str, int] | None = None) -> None:
    """Write the page to `out` as it is made. `levels` (mastery's weights, from the trainer's catalogue)
    win over those `lab grade` recorded."""
    from lab.classroom.arena import cohort_usage
    from lab.classroom.arena_report import arena_html

    levels = {**store.levels(), **(levels or {})}
    w = out.write
    usage = cohort_usage(store)
    runs = store.runs()
    wall = sum(run["wall_s"] or 0 for run in runs)
    infos = [ExerciseInfo(x, track, int(levels.get(x, 1)), skills) for x, track, skills in store.exercise_infos()]
    infos.sort(key=lambda i: i.order)
    exercises = sorted(i.id for i in infos)
    unweighted = [i.id for i in infos if i.id not in levels]
    skills = skill_order(infos)
    learners, total, graded, passed = store.tally()
    models = store.models()
    training = {s: [i for i in infos if s in i.skills] for s in skills}  # each skill's exercises, once

    w(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cohort report · {e(store.folder.name)}</title>")
    w(f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head><body>")
    w(f"<h1>Cohort report · {e(store.folder.name)}</h1>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    w(f"<div class=\"muted\">Graded with {e(', '.join(models) or '—')} · written {stamp} from <code>cohort.db</code> (by <code>lab grade</code>, and after each <code>lab review</code>)</div>")
    w("<div class=\"cards\">")
    for label, value in (("learners", f"{learners:,}"), ("exercises", len(exercises)), ("graded", f"{graded:,}/{total:,}"),
                         ("passed", f"{passed:,}/{graded:,}" if graded else "—"), ("cost", money(usage["cost_usd"])),
                         ("model calls", f"{usage['calls']:,}"), ("grading time", f"{wall:.1f} s")):
        w(f"<div class=\"card\"><span class=\"muted\">{e(label)}</span><b>{e(value)}</b></div>")
    last = store.last_run()
    skipped = store.count_problems(last) if last is not None else 0
    if skipped:
        w(f"<div class=\"card\"><span class=\"muted\">skipped</span><b class=\"warn\"><a href=\"#skipped\">{skipped:,}</a></b></div>")
    w("</div>")
    _skipped(store, w)

    # ------------------------------------------------------------ the one pass: matrix rows now, mastery rows spooled
    w("<h2 id=\"matrix\">Learners × exercises</h2>")
    w("<div class=\"legend muted\">score, ✓ passed · ✗ not passed · ≠ handed in against another version · … not graded yet · ! failed · ? a criterion ungraded · † a judge's verdict overridden by the trainer (<code>lab review</code>)"
      " · not passed <span class=\"f0\"></span>0<span class=\"f9\"></span>0.9 · passed <span class=\"p10\"></span></div>")
    if learners > PAGE:
        w(f"<p class=\"muted\">{learners:,} learners in pages of {PAGE}: open a page to see it (a browser lays out only the pages open).</p>")
    header = ("<tr><th>learner</th>" + "".join(f"<th class=\"ex\" title=\"{e(x)}\">{e(x)}</th>" for x in exercises) + "<th>passed</th></tr>")
    skills_header = "<tr><th></th>" + "".join(f"<th>{e(s)}</th>" for s in skills) + "</tr>"
    found = _Pass()
    near = NearIdentical()
    bounds = _page_bounds(store)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for group in _by_learner(store.iter_results()):
            learner = group[0].learner
            page, at = divmod(found.learners, PAGE)
            if at == 0:
                if page:
                    w("</table></div></details>")
                    spool.write("</table></div></details>")
                if learners > PAGE:
                    _page(w, page, bounds[page], header)
                    _page(spool.write, page, bounds[page], skills_header)
                else:
                    w(f"<div class=\"scroll\"><table class=\"matrix\">{header}")
                    spool.write(f"<div class=\"scroll\"><table>{skills_header}")
            found.learners += 1
            cells = {r.exercise: r for r in group}
            w(f"<tr><th>{e(learner)}</th>")
            w("".join(_cell(cells[x]) if x in cells else "<td class=\"cell muted\">·</td>" for x in exercises))
            mine = [r for r in group if r.status == "graded"]
            w(f"<td>{sum(1 for r in mine if r.passed)}/{len(mine)}</td></tr>")
            earned = credits(infos, [Try(r.exercise, r.status, r.score, r.passed, r.hints_used, r.exercise_hash) for r in group])
            spool.write(f"<tr><th>{e(learner)}</th>")
            for s in skills:
                value = weighted(training[s], earned)  # as lab.practice.mastery.mastery() weighs a skill
                found.skill_sums[s] += value
                spool.write(f"<td class=\"cell {_shade(value)}\" title=\"{e(learner)} · {e(s)}: {e(band(value))}\">{value:.2f}</td>")
            spool.write("</tr>")
            for r in group:
                _add(found, r)
                near.add(r.exercise, r.learner, r.all_text, r.fingerprint)  # every text a learner wrote, not the main one alone
        if found.learners:
            w("</table></div>" + ("</details>" if learners > PAGE else ""))
            spool.write("</table></div>" + ("</details>" if learners > PAGE else ""))
        else:
            w(f"<div class=\"scroll\"><table class=\"matrix\">{header}</table></div>")

        # ------------------------------------------------------------ criteria
        rates = found.rates.hardest()
        w("<h2 id=\"criteria\">What the class finds hardest</h2>")
        w("<p class=\"muted\">Each criterion's pass rate over the graded submissions, lowest first, with the feedback the exercise gives on a fail. "
          "Rates are after the trainer's review; <i>overridden</i> counts the submissions whose verdict on the criterion "
          "<code>lab review</code> changed (the † cells of the matrix).</p>")
        w("<table><tr><th>exercise · criterion</th><th>pass rate</th><th>passed</th><th>overridden</th><th>feedback, and a failing reason</th></tr>")
        for c in rates[:60]:
            reason = f"<div class=\"muted\">{e(c.example_reason)}</div>" if c.example_reason else ""
            changed = f"{c.overridden} †" if c.overridden else "<span class=\"muted\">0</span>"
            w(f"<tr><td>{e(c.exercise)} · <b>{e(c.id)}</b> <span class=\"muted\">({e(c.check)})</span></td><td>{_bar(c.rate)}</td>"
              f"<td>{c.passed}/{c.graded}</td><td class=\"overridden\">{changed}</td><td>{e(c.feedback or '')}{reason}</td></tr>")
        if not rates:
            w("<tr><td colspan=\"5\" class=\"muted\">nothing graded yet</td></tr>")
        w("</table>")

        _tool_calls(found, w)

        # ------------------------------------------------------------ skills
        w("<h2 id=\"skills\">Mastery per skill</h2>")
        w("<p class=\"muted\">Each learner's mastery of each skill, as <code>lab certify</code> and <code>lab progress</code> define it "
          "(docs/mastery.md): a pass is worth 1 less 0.05 a hint revealed before it, never under 0.85; an exercise not passed, half its score; "
          "each weighed by its level, over every exercise of the cohort that trains the skill (one not handed in counts 0), after the "
          f"trainer's review. Mastered from {MASTERED}, practising from {PRACTISING}. The class line is the learners' mean.</p>")
        if unweighted:
            w(f"<p class=\"warn\">Not in the trainer's exercises, so weighing 1: {e(', '.join(unweighted))} "
              "(grade again with <code>--exercises DIR</code> for their levels).</p>")
        w("<div class=\"scroll\"><table>" + skills_header + "<tr><th>class</th>")
        for s in skills:
            value = round(found.skill_sums[s] / found.learners, DIGITS) if found.learners else 0.0
            w(f"<td>{_bar(value, 90, f'class mean {value:.2f}', f'{value:.2f}')}</td>")
        w("</tr></table></div>")
        spool.seek(0)
        shutil.copyfileobj(spool, out)

    # ------------------------------------------------------------ mismatches
    w("<h2 id=\"versions\">Handed in against another version of the exercise</h2>")
    if found.mismatches:
        w(f"<p class=\"muted\">{found.mismatch_count:,} learner(s) practised on a version whose content hash differs from yours; their grade is for your version.</p>")
        w("<table><tr><th>learner</th><th>exercise</th><th>their version</th><th>yours</th></tr>")
        for r in found.mismatches:
            w(f"<tr><td>{e(r.learner)}</td><td>{e(r.exercise)}</td><td><code>{e(r.handed_in_hash)}</code></td><td><code>{e(r.exercise_hash)}</code></td></tr>")
        w("</table>")
        if found.mismatch_count > len(found.mismatches):
            w(f"<p class=\"muted\">… and {found.mismatch_count - len(found.mismatches):,} more (<code>lab grade --json</code> lists them all).</p>")
    else:
        w("<p class=\"muted\">None: every submission that names its version was made against yours.</p>")

    # ------------------------------------------------------------ near-identical prompts
    clusters = near.clusters()
    w("<h2 id=\"similar\">Near-identical prompts of different learners</h2>")
    w(f"<p class=\"muted\">Prompts for one exercise sharing at least {NEAR:.0%} of their three-word sequences.</p>")
    if clusters:
        w("<table><tr><th>exercise</th><th>learners</th><th>similarity</th><th>one of the prompts</th></tr>")
        for c in clusters[:40]:
            names = ", ".join(c.learners[:12]) + (f" and {len(c.learners) - 12} more" if len(c.learners) > 12 else "")
            w(f"<tr><td>{e(c.exercise)}</td><td>{len(c.learners)}: {e(names)}</td><td>{_similar(c.similarity)}</td><td><pre>{e(c.prompt[:600])}</pre></td></tr>")
        w("</table>")
    else:
        w("<p class=\"muted\">None found.</p>")

    # ------------------------------------------------------------ arenas
    w(arena_html(store))

    # ------------------------------------------------------------ cost and time
    w("<h2 id=\"cost\">Cost and time</h2>")
    w(f"<p>{usage['calls']:,} model calls · {usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} completion tokens · "
      f"{money(usage['cost_usd'])} · {wall:.1f} s of grading over {len(runs)} run(s)</p>")
    w("<table><tr><th>exercise</th><th>submissions</th><th>cost</th><th>mean grading time</th></tr>")
    for x in exercises:
        cost, seconds, n = found.per_exercise[x]
        w(f"<tr><td>{e(x)}</td><td>{int(n):,}</td><td>{money(cost)}</td><td>{seconds / n if n else 0:.2f} s</td></tr>")
    w("</table>")
    w("<table><tr><th>run</th><th>started</th><th>model</th><th>calls</th><th>cost</th><th>graded</th><th>left</th><th>wall</th></tr>")
    for run in runs[-30:]:
        w(f"<tr><td>{run['id']}</td><td>{e(run['started_at'])}</td><td>{e(run['model'])}</td><td>{run['calls']}</td><td>{money(run['cost_usd'])}</td>"
          f"<td>{run['graded']}</td><td>{run['left_over']}</td><td>{_seconds(run['wall_s'])}</td></tr>")
    w("</table>")
    if found.left:
        w("<h2 id=\"left\">Left ungraded</h2><table><tr><th>learner</th><th>exercise</th><th>status</th><th>why</th></tr>")
        for r in found.left:
            why = r.error or ("not reached: the cost cap stopped the run, or another run was grading it" if r.status == "pending" else "")
            w(f"<tr><td>{e(r.learner)}</td><td>{e(r.exercise)}</td><td class=\"warn\">{e(r.status)}</td><td>{e(why)}</td></tr>")
        w("</table>")
        if found.left_count > len(found.left):
            w(f"<p class=\"muted\">… and {found.left_count - len(found.left):,} more (<code>lab grade --json</code> lists them all).</p>")
    w("</body></html>\n")


def _add(found: _Pass, r: ResultRow) -> None:
    found.results += 1
    found.rates.add(r)
    if r.version_mismatch:
        found.mismatch_count += 1
        if len(found.mismatches) < LISTED:
            found.mismatches.append(r)
    if r.status != "graded":
        found.left_count += 1
        if len(found.left) < LISTED:
            found.left.append(r)
    for case in (r.result or {}).get("cases", []):
        for sample, messages in enumerate(case.get("conversations") or []):
            if not any(m.get("calls") for m in messages if isinstance(m, dict)):
                continue
            found.tools_count += 1
            if len(found.tools) < LISTED:
                from lab.format.conversation import Transcript

                found.tools.append((r, case["name"], sample, Transcript.from_json(messages)))
    entry = found.per_exercise[r.exercise]
    entry[0] += r.cost_usd
    entry[1] += r.duration_s or 0.0
    entry[2] += 1


def _tool_calls(found: _Pass, w: Any) -> None:
    """Exercises with tools: each learner's conversation of each case as its calls, in order, with their arguments,
    each tool's result one line until opened (a `<details>`), and the conversations cut off by `tool_rounds`."""
    from lab.practice.report import one_line

    if not found.tools:
        return
    w("<h2 id=\"tools\">Tool calls</h2>")
    w("<p class=\"muted\">In exercises with tools, each conversation's calls in order, with their arguments; open a result to read it "
      "whole. <span class=\"warn\">cut off</span>: the model was still calling tools when the exercise's rounds ran out.</p>")
    w("<table><tr><th>learner</th><th>exercise · case</th><th>calls and results</th></tr>")
    for r, case, sample, transcript in found.tools:
        answers = {m.call_id: m for m in transcript.messages if m.role == "tool"}
        items = []
        for m in transcript.messages:
            for call in m.calls:
                said = answers.get(call.id)
                if said is None:
                    items.append(f"<div class=\"warn\"><code>{e(call.shown())}</code> · not answered</div>")
                    continue
                flag = " class=\"warn\"" if said.error else ""
                items.append(f"<details><summary><code>{e(call.shown())}</code> → <span{flag}>{e(one_line(said.content, 90))}</span></summary>"
                             f"<pre>{e(said.content)}</pre></details>")
        cut = " <span class=\"warn\">cut off</span>" if transcript.rounds_spent else ""
        w(f"<tr><td>{e(r.learner)}</td><td>{e(r.exercise)} · {e(case)}{f' #{sample + 1}' if sample else ''}{cut}</td><td>{''.join(items)}</td></tr>")
    w("</table>")
    if found.tools_count > len(found.tools):
        w(f"<p class=\"muted\">… {found.tools_count - len(found.tools)} more conversations with tool calls (cohort.db has them all).</p>")


def _page_bounds(store: CohortStore) -> list[tuple[str, str]]:
    """The first and last learner of each page (a page's summary names them)."""
    bounds: list[tuple[str, str]] = []
    first = last = ""
    for n, name in enumerate(store.names("learner")):
        if n % PAGE == 0:
            if n:
                bounds.append((first, last))
            first = name
        last = name
    if first:
        bounds.append((first, last))
    return bounds


def _skipped(store: CohortStore, w: Any) -> None:
    """The lines the last run could not grade, and why (read from cohort.db: `lab review` redraws them too)."""
    run = store.last_run()
    count = store.count_problems(run) if run is not None else 0
    if not count:
        return
    w(f"<h2 id=\"skipped\">Skipped submissions ({count:,})</h2><p class=\"muted\">What the last <code>lab grade</code> run could not "
      "grade, and why (nothing of it was sent to a model); fix the file or the exercise folder (<code>--exercises</code>) and run it again.</p>")
    w("<table><tr><th>file</th><th>line</th><th>why</th></tr>")
    for path, line, message in store.problems(run, LISTED):  # type: ignore[arg-type]
        w(f"<tr><td>{e(path)}</td><td>{'' if line is None else line}</td><td class=\"warn\">{e(message)}</td></tr>")
    w("</table>")
    if count > LISTED:
        w(f"<p class=\"muted\">… and {count - LISTED:,} more (<code>lab grade --json</code> lists them all).</p>")


def render(store: CohortStore, levels: Mapping[str, int] | None = None) -> str:
    """The page as a string (`write_report` writes it straight to its file)."""
    buffer = io.StringIO()
    write_html(store, buffer, levels)
    return buffer.getvalue()


def write_report(store: CohortStore, folder: Path, levels: Mapping[str, int] | None = None) -> Path:
    """Write `folder/report.html` (atomically: a half-written report is never left in its place)."""
    target = Path(folder) / REPORT
    with replaced_atomically(target) as out:
        write_html(store, out, levels)
    return target


# ---------------------------------------------------------------- submissions `lab grade` skipped

SKIPPED = "skipped.json"  # the last run's unusable submissions beside cohort.db (the report reads them from cohort.db)


def write_skipped(folder: Path, problems: Iterable[tuple[str, int | None, str]]) -> None:
    """Keep the submissions this run could not use (`path`, `line`, `message` each) in `folder/skipped.json`,
    written as they stream from cohort.db; none: no file."""
    import json

    target = Path(folder) / SKIPPED
    count = 0
    with replaced_atomically(target) as out:
        out.write("[")
        for path, line, message in problems:
            out.write(("," if count else "") + "\n " + json.dumps({"path": path, "line": line, "message": message}, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    if not count:
        target.unlink(missing_ok=True)
