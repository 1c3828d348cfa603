"""`DIR/report.html`: one self-contained page about a graded cohort, drawn from `cohort.db` alone.

No script, no font, no stylesheet or image is fetched: the CSS is inline and the charts are inline SVG,
so the file opens offline and can be mailed as it is. Every text from a submission is escaped.
"""

from __future__ import annotations

import html
import os
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from lab.classroom.cohort import CohortStore
from lab.classroom.records import ResultRow
from lab.practice.mastery import MASTERED, PRACTISING, cohort_mastery
from lab.practice.report import score_label

REPORT = "report.html"
NEAR = 0.8  # Jaccard similarity of word 3-grams from which two prompts count as near-identical
BANDS, ROWS = 12, 2  # MinHash banding: pairs of about NEAR similarity meet in a band with probability ~1


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------- near-identical prompts


def _shingles(prompt: str) -> frozenset[str]:
    words = re.findall(r"\w+|[{}]+", prompt.lower())
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i:i + 3]) for i in range(len(words) - 2))


_MASKS = tuple(zlib.crc32(f"mask {i}".encode()) * 2654435761 % (1 << 32) for i in range(BANDS * ROWS))


def _signature(shingles: frozenset[str]) -> tuple[int, ...]:
    """MinHash: one CRC per shingle, turned into BANDS * ROWS hash functions by XOR with fixed masks
    (deterministic across runs, unlike hash())."""
    hashes = [zlib.crc32(s.encode()) for s in shingles]
    return tuple(min(h ^ mask for h in hashes) for mask in _MASKS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass(frozen=True)
class Cluster:
    exercise: str
    learners: tuple[str, ...]
    prompt: str
    similarity: float  # the lowest similarity of the pairs that joined it


def near_identical(rows: Iterable[ResultRow], threshold: float = NEAR) -> list[Cluster]:
    """Groups of different learners whose prompts for one exercise are near-identical (largest first).

    Candidates come from MinHash bands (so a class of a thousand is not a million comparisons); each
    candidate pair is then measured exactly."""
    by_exercise: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        by_exercise[r.exercise].append(r)
    clusters = []
    for exercise, items in sorted(by_exercise.items()):
        shingles = [_shingles(r.all_text) for r in items]  # every text a learner wrote, not the main one alone
        parent = list(range(len(items)))
        lowest: dict[int, float] = {}

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
        for i, s in enumerate(shingles):
            sig = _signature(s)
            for band in range(BANDS):
                buckets[(band, sig[band * ROWS:(band + 1) * ROWS])].append(i)
        checked: set[tuple[int, int]] = set()
        for members in buckets.values():
            first = members[0]
            for other in members[1:]:  # against the bucket's first: enough to join a group, linear per bucket
                pair = (first, other)
                if pair in checked or root(first) == root(other):
                    continue
                checked.add(pair)
                similarity = jaccard(shingles[first], shingles[other])
                if similarity >= threshold:
                    a, b = root(first), root(other)
                    parent[b] = a
                    lowest[a] = min(lowest.get(a, 1.0), lowest.get(b, 1.0), similarity)
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(len(items)):
            groups[root(i)].append(i)
        for top, members in groups.items():
            learners = sorted({items[i].learner for i in members})
            if len(learners) >= 2:
                clusters.append(Cluster(exercise, tuple(learners), items[members[0]].all_text, lowest.get(top, 1.0)))
    return sorted(clusters, key=lambda c: (-len(c.learners), c.exercise))


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


def criterion_rates(rows: Iterable[ResultRow]) -> list[CriterionRate]:
    """Each criterion's pass rate across the class, hardest first."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        for c in (r.result or {}).get("criteria", []):
            if c.get("ungraded"):
                continue
            entry = seen.setdefault((r.exercise, c["id"]), {"check": c.get("check", ""), "graded": 0, "passed": 0, "feedback": None, "reason": None,
                                                            "overridden": 0})
            entry["graded"] += 1
            entry["passed"] += bool(c.get("passed"))
            entry["overridden"] += bool(c.get("overridden"))
            if not c.get("passed"):
                entry["feedback"] = entry["feedback"] or c.get("feedback")
                entry["reason"] = entry["reason"] or c.get("reason")
    rates = [CriterionRate(ex, cid, v["check"], v["graded"], v["passed"], v["feedback"], v["reason"], v["overridden"])
             for (ex, cid), v in seen.items()]
    return sorted(rates, key=lambda c: (c.rate, -c.graded, c.exercise, c.id))


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


def _money(amount: float) -> str:
    return f"${amount:.4f}" if amount == 0 or amount >= 0.01 else f"${amount:.6f}"


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
svg.bar{vertical-align:middle}
"""


def render(store: CohortStore, levels: Mapping[str, int] | None = None) -> str:
    """The page; `levels` (mastery's weights, from the trainer's catalogue) win over those `lab grade` recorded."""
    levels = {**store.levels(), **(levels or {})}
    rows = store.results()
    submissions = {s["key"]: s for s in store.submissions()}
    hints = {key: int(s.get("hints_used") or 0) for key, s in submissions.items()}
    runs = store.runs()
    usage = store.usage()
    from lab.classroom.arena import ArenaStore

    arena_usage = ArenaStore(store).usage()  # the arenas' pairs are paid for too
    usage = {k: usage[k] + arena_usage[k] for k in usage}
    learners = sorted({r.learner for r in rows})
    exercises = sorted({r.exercise for r in rows})
    cell = {(r.learner, r.exercise): r for r in rows}
    graded = [r for r in rows if r.status == "graded"]
    mismatches = [(r, submissions.get(r.submission, {}).get("exercise_hash")) for r in rows]
    mismatches = [(r, theirs) for r, theirs in mismatches if theirs and theirs != r.exercise_hash]
    mismatch_keys = {(r.learner, r.exercise) for r, _ in mismatches}
    wall = sum(run["wall_s"] or 0 for run in runs)
    out: list[str] = []
    w = out.append
    w(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cohort report · {e(store.folder.name)}</title>")
    w(f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head><body>")
    w(f"<h1>Cohort report · {e(store.folder.name)}</h1>")
    models = sorted({r.model for r in rows})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    w(f"<div class=\"muted\">Graded with {e(', '.join(models) or '—')} · written {stamp} from <code>cohort.db</code> (by <code>lab grade</code>, and after each <code>lab review</code>)</div>")
    passed = sum(1 for r in graded if r.passed)
    w("<div class=\"cards\">")
    for label, value in (("learners", len(learners)), ("exercises", len(exercises)), ("graded", f"{len(graded)}/{len(rows)}"),
                         ("passed", f"{passed}/{len(graded)}" if graded else "—"), ("cost", _money(usage["cost_usd"])),
                         ("model calls", usage["calls"]), ("grading time", f"{wall:.1f} s")):
        w(f"<div class=\"card\"><span class=\"muted\">{e(label)}</span><b>{e(value)}</b></div>")
    skipped = read_skipped(store.folder)
    if skipped:
        w(f"<div class=\"card\"><span class=\"muted\">skipped</span><b class=\"warn\"><a href=\"#skipped\">{len(skipped)}</a></b></div>")
    w("</div>")
    w(_skipped_section(store.folder))

    # ------------------------------------------------------------ matrix
    w("<h2 id=\"matrix\">Learners × exercises</h2>")
    w("<div class=\"legend muted\">score, ✓ passed · ✗ not passed · ≠ handed in against another version · … not graded yet · ! failed · ? a criterion ungraded · † a judge's verdict overridden by the trainer (<code>lab review</code>)"
      f" · not passed <span style=\"background:{_colour(0, False)}\"></span>0<span style=\"background:{_colour(0.9, False)}\"></span>0.9"
      f" · passed <span style=\"background:{_colour(1, True)}\"></span></div>")
    w("<div class=\"scroll\"><table class=\"matrix\"><tr><th>learner</th>")
    w("".join(f"<th class=\"ex\" title=\"{e(x)}\">{e(x)}</th>" for x in exercises))
    w("<th>passed</th></tr>")
    for learner in learners:
        w(f"<tr><th>{e(learner)}</th>")
        for x in exercises:
            r = cell.get((learner, x))
            if r is None:
                w("<td class=\"cell muted\">·</td>")
                continue
            mark = {"pending": "…", "failed": "!", "ungraded": "?"}.get(r.status, "✓" if r.passed else "✗")
            mark += " ≠" if (learner, x) in mismatch_keys else ""
            score = "" if r.score is None else f"{score_label(r.score, bool(r.passed), _pass_mark(r))} "
            title = r.error or f"{learner} · {x}: {r.status}"
            if r.overridden:  # the trainer's review replaced a judge's verdict (lab review)
                mark += " †"
                title += f"; overridden by the trainer: {', '.join(r.overridden)}"
            verdict = r.passed if r.status == "graded" else None
            w(f"<td class=\"cell\" style=\"background:{_colour(r.score if r.status != 'pending' else None, verdict)}\" title=\"{e(title)}\">{e(score)}{e(mark)}</td>")
        mine = [r for r in graded if r.learner == learner]
        w(f"<td>{sum(1 for r in mine if r.passed)}/{len(mine)}</td></tr>")
    w("</table></div>")

    # ------------------------------------------------------------ criteria
    rates = criterion_rates(rows)
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

    _tool_calls(rows, w)

    # ------------------------------------------------------------ skills
    learnt = cohort_mastery(rows, hints, levels)
    skills = learnt.skills()
    w("<h2 id=\"skills\">Mastery per skill</h2>")
    w("<p class=\"muted\">Each learner's mastery of each skill, as <code>lab certify</code> and <code>lab progress</code> define it "
      "(docs/mastery.md): a pass is worth 1 less 0.05 a hint revealed before it, never under 0.85; an exercise not passed, half its score; "
      "each weighed by its level, over every exercise of the cohort that trains the skill (one not handed in counts 0), after the "
      f"trainer's review. Mastered from {MASTERED}, practising from {PRACTISING}. The class line is the learners' mean.</p>")
    if learnt.unweighted:
        w(f"<p class=\"warn\">Not in the trainer's exercises, so weighing 1: {e(', '.join(learnt.unweighted))} "
          "(grade again with <code>--exercises DIR</code> for their levels).</p>")
    w("<div class=\"scroll\"><table><tr><th></th>" + "".join(f"<th>{e(s)}</th>" for s in skills) + "</tr>")
    w("<tr><th>class</th>")
    for s in skills:
        value = learnt.class_skill(s)
        w(f"<td>{_bar(value, 90, f'class mean {value:.2f}', f'{value:.2f}')}</td>")
    w("</tr>")
    for learner in learners[:200]:
        w(f"<tr><th>{e(learner)}</th>")
        by_skill = {m.skill: m for m in learnt.learners[learner].skills}
        for s in skills:
            m = by_skill[s]
            w(f"<td class=\"cell\" style=\"background:{_colour(m.mastery)}\" title=\"{e(learner)} · {e(s)}: {e(m.band)}\">{m.mastery:.2f}</td>")
        w("</tr>")
    w("</table></div>")
    if len(learners) > 200:
        w(f"<p class=\"muted\">… {len(learners) - 200} more learners (cohort.db has them all).</p>")

    # ------------------------------------------------------------ mismatches
    w("<h2 id=\"versions\">Handed in against another version of the exercise</h2>")
    if mismatches:
        w("<p class=\"muted\">These learners practised on a version whose content hash differs from yours; their grade is for your version.</p>")
        w("<table><tr><th>learner</th><th>exercise</th><th>their version</th><th>yours</th></tr>")
        for r, theirs in mismatches[:300]:
            w(f"<tr><td>{e(r.learner)}</td><td>{e(r.exercise)}</td><td><code>{e(theirs)}</code></td><td><code>{e(r.exercise_hash)}</code></td></tr>")
        w("</table>")
    else:
        w("<p class=\"muted\">None: every submission that names its version was made against yours.</p>")

    # ------------------------------------------------------------ near-identical prompts
    clusters = near_identical(rows)
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
    from lab.classroom.arena_report import arena_html

    w(arena_html(store))

    # ------------------------------------------------------------ cost and time
    w("<h2 id=\"cost\">Cost and time</h2>")
    w(f"<p>{usage['calls']} model calls · {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens · "
      f"{_money(usage['cost_usd'])} · {wall:.1f} s of grading over {len(runs)} run(s)</p>")
    per_exercise: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for r in rows:
        entry = per_exercise[r.exercise]
        entry[0] += r.cost_usd
        entry[1] += r.duration_s or 0.0
        entry[2] += 1
    w("<table><tr><th>exercise</th><th>submissions</th><th>cost</th><th>mean grading time</th></tr>")
    for x in exercises:
        cost, seconds, n = per_exercise[x]
        w(f"<tr><td>{e(x)}</td><td>{int(n)}</td><td>{_money(cost)}</td><td>{seconds / n if n else 0:.2f} s</td></tr>")
    w("</table>")
    w("<table><tr><th>run</th><th>started</th><th>model</th><th>calls</th><th>cost</th><th>graded</th><th>left</th><th>wall</th></tr>")
    for run in runs[-30:]:
        w(f"<tr><td>{run['id']}</td><td>{e(run['started_at'])}</td><td>{e(run['model'])}</td><td>{run['calls']}</td><td>{_money(run['cost_usd'])}</td>"
          f"<td>{run['graded']}</td><td>{run['left_over']}</td><td>{_seconds(run['wall_s'])}</td></tr>")
    w("</table>")
    left = [r for r in rows if r.status != "graded"]
    if left:
        w("<h2 id=\"left\">Left ungraded</h2><table><tr><th>learner</th><th>exercise</th><th>status</th><th>why</th></tr>")
        for r in left[:300]:
            why = r.error or ("not reached: the cost cap stopped the run" if r.status == "pending" else "")
            w(f"<tr><td>{e(r.learner)}</td><td>{e(r.exercise)}</td><td class=\"warn\">{e(r.status)}</td><td>{e(why)}</td></tr>")
        w("</table>")
    w("</body></html>\n")
    return "".join(out)


def _tool_calls(rows: list[ResultRow], w: Callable[[str], Any], limit: int = 300) -> None:
    """Exercises with tools: each learner's conversation of each case as its calls, in order, with their arguments,
    each tool's result one line until opened (a `<details>`), and the conversations cut off by `tool_rounds`."""
    from lab.format.conversation import Transcript
    from lab.practice.report import one_line

    found = []
    for r in rows:
        for case in (r.result or {}).get("cases", []):
            for sample, messages in enumerate(case.get("conversations") or []):
                transcript = Transcript.from_json(messages)
                if transcript.calls:
                    found.append((r, case["name"], sample, transcript))
    if not found:
        return
    w("<h2 id=\"tools\">Tool calls</h2>")
    w("<p class=\"muted\">In exercises with tools, each conversation's calls in order, with their arguments; open a result to read it "
      "whole. <span class=\"warn\">cut off</span>: the model was still calling tools when the exercise's rounds ran out.</p>")
    w("<table><tr><th>learner</th><th>exercise · case</th><th>calls and results</th></tr>")
    for r, case, sample, transcript in found[:limit]:
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
    if len(found) > limit:
        w(f"<p class=\"muted\">… {len(found) - limit} more conversations with tool calls (cohort.db has them all).</p>")


def write_report(store: CohortStore, folder: Path, levels: Mapping[str, int] | None = None) -> Path:
    """Write `folder/report.html` (atomically: a half-written report is never left in its place)."""
    target = Path(folder) / REPORT
    tmp = target.with_name(REPORT + ".tmp")
    tmp.write_text(render(store, levels), encoding="utf-8")
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------- submissions `lab grade` skipped

SKIPPED = "skipped.json"  # the last `lab grade` run's unusable submissions, so that every redraw of the report names them


def write_skipped(folder: Path, problems: list[Any]) -> None:
    """Keep the submissions this run could not use (each `path`, `line`, `message`) beside cohort.db; none: no file."""
    import json

    target = Path(folder) / SKIPPED
    if not problems:
        target.unlink(missing_ok=True)
        return
    rows = [{"path": str(p.path), "line": p.line, "message": p.message} for p in problems]
    tmp = target.with_name(SKIPPED + ".tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)


def read_skipped(folder: Path) -> list[dict[str, Any]]:
    import json

    try:
        rows = json.loads((Path(folder) / SKIPPED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _skipped_section(folder: Path) -> str:
    rows = read_skipped(folder)
    if not rows:
        return ""
    out = [f"<h2 id=\"skipped\">Skipped submissions ({len(rows)})</h2>",
           "<p class=\"muted\">What the last <code>lab grade</code> run could not grade, and why; fix the file or the "
           "exercise folder (<code>--exercises</code>) and run it again.</p>",
           "<table><tr><th>file</th><th>line</th><th>why</th></tr>"]
    for r in rows[:300]:
        out.append(f"<tr><td>{e(r.get('path'))}</td><td>{e(r.get('line') or '')}</td><td class=\"warn\">{e(r.get('message'))}</td></tr>")
    if len(rows) > 300:
        out.append(f"<tr><td colspan=\"3\" class=\"muted\">… and {len(rows) - 300} more (<code>lab grade --json</code> lists them all)</td></tr>")
    out.append("</table>")
    return "".join(out)


def _pass_mark(row: ResultRow) -> float:
    return float((row.result or {}).get("pass_mark", 1.0))
