"""The arenas' part of `report.html`: per arena, the attackers × defenders matrix (each cell opens its
exchange), the leaderboards of both sides, and the attacks that broke the most defences (the class's
lesson). Drawn from cohort.db alone (`lab.classroom.arena.standings`), every learner's text escaped.

A cell links to its exchange, which the page shows through CSS `:target` alone: no script, so the report
still opens offline as one file. A class larger than `SHOWN` learners a side shows the top of each
leaderboard in the matrix; `lab grade --json` and cohort.db hold every pair.
"""

from __future__ import annotations


from lab.classroom.arena import ArenaStore, PairView, Score, Standing, standings
from lab.classroom.cohort import CohortStore
from lab.classroom.escaping import e
from lab.format.arenas import who_wrote

SHOWN = 60  # learners a side in a matrix (the best ranked)
MARKS = {"held": "✓", "broken": "✗", "pending": "…", "failed": "!", "ungraded": "?", "out": "—"}
COLOURS = {"held": "#bbf7d0", "broken": "#fecaca", "pending": "#e5e7eb", "failed": "#fde68a", "ungraded": "#fde68a", "out": "#f3f4f6"}
CSS = """
.arena .exchange{display:none;border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px;margin:10px 0}
.arena .exchange:target{display:block}
.arena td.cell a{display:block;color:inherit;text-decoration:none}
.arena .msg{margin:6px 0}.arena .who{font-size:12px;color:#6b7280}
.arena .attack{border-left:3px solid #dc2626;padding-left:8px}.arena .defence{border-left:3px solid #2563eb;padding-left:8px}
.arena .answer{border-left:3px solid #6b7280;padding-left:8px}
"""
WHO = {"attack": "the attack", "defence": "the defence", "exercise": "the exercise", "model": "the model's answer"}


def _share(s: Score) -> str:
    return "—" if s.share is None else f"{s.share:.0%}"


def arena_html(store: CohortStore) -> str:
    """Every arena's section (an empty string when the cohort played none)."""
    found = standings(store)
    if not found:
        return ""
    astore = ArenaStore(store)
    out = [f"<style>{CSS}</style>"]
    for standing in found:
        out.append(_section(standing, astore))
    return "".join(out)


def _section(s: Standing, astore: ArenaStore) -> str:
    out: list[str] = []
    w = out.append
    anchor = f"arena-{e(s.arena)}"
    played = [p for p in s.pairs if p.held is not None]
    w(f"<section class=\"arena\"><h2 id=\"{anchor}\">Arena · {e(s.arena)}</h2>")
    w(f"<p class=\"muted\">Defence <code>{e(s.defence_exercise)}</code> against "
      + ", ".join(f"<code>{e(x)}</code>" for x in s.attack_exercises)
      + f". Each learner's attack met every other learner's defence, graded by the defence's rubric: {len(played)} of "
      f"{len(s.pairs)} pairs played ({sum(p.row.cost_usd for p in s.pairs if p.row is not None):.6f} USD). A defence that fails "
      "its own benign cases scores nothing and is not attacked.</p>")

    # ------------------------------------------------------------ matrix
    attackers = [a.learner for a in s.attackers][:SHOWN]
    defenders = [d.learner for d in s.defenders][:SHOWN]
    cells = {(p.attacker, p.defender): p for p in s.pairs}
    w("<div class=\"legend muted\">✓ held · ✗ broken · … not played yet · ! the model failed · ? a judge left it undecided "
      "(<code>lab review</code>) · — left out (hover for why) · click a cell for its exchange</div>")
    w("<div class=\"scroll\"><table class=\"matrix\"><tr><th>attacker ↓ · defender →</th>")
    w("".join(f"<th class=\"ex\" title=\"{e(d)}\">{e(d)}</th>" for d in defenders))
    w("<th>broke</th></tr>")
    by_attacker = {a.learner: a for a in s.attackers}
    for a in attackers:
        w(f"<tr><th>{e(a)}</th>")
        for d in defenders:
            if a == d:
                w("<td class=\"cell muted\">·</td>")
                continue
            p = cells.get((a, d))
            if p is None:
                w("<td class=\"cell muted\"></td>")
                continue
            w(_cell(p))
        score = by_attacker[a]
        w(f"<td>{score.won}/{score.played}</td></tr>")
    w("</table></div>")
    if len(s.attackers) > SHOWN or len(s.defenders) > SHOWN:
        w(f"<p class=\"muted\">The matrix shows the {SHOWN} best ranked learners of each side; <code>lab grade --json</code> "
          "and cohort.db hold every pair.</p>")

    # ------------------------------------------------------------ leaderboards
    w("<h3>Defences: share of attacks held</h3>")
    w(_board(s.defenders, "held", "faced"))
    w("<h3>Attacks: share of defences broken</h3>")
    w(_board(s.attackers, "broke", "tried"))
    w("<p class=\"muted\">Ties are broken by the shorter text.</p>")

    # ------------------------------------------------------------ lesson
    w("<h3>The class's lesson: the attacks that broke the most defences</h3>")
    if s.lesson:
        for a in s.lesson:
            broken = [p.defender for p in s.pairs if p.attacker == a.learner and p.held is False]
            w(f"<p><b>{e(a.learner)}</b> broke {a.won} of {a.played} defences ({e(', '.join(broken))}), with "
              f"<code>{e(a.exercise)}</code>:</p><pre>{e(a.text[:2000])}</pre>")
    else:
        w("<p class=\"muted\">No attack broke a defence.</p>")

    # ------------------------------------------------------------ exchanges
    shown = {(a, d) for a in attackers for d in defenders}
    for p in s.pairs:
        if (p.attacker, p.defender) in shown and p.row is not None:
            w(_exchange(p, astore))
    w("</section>")
    return "".join(out)


def _cell(p: PairView) -> str:
    mark = MARKS[p.state] + (" †" if p.row is not None and p.row.overridden else "")
    title = f"{p.attacker} → {p.defender}: {p.state}" + (f" ({p.why})" if p.why else "")
    if p.row is not None and p.row.overridden:
        title += f"; a judge's verdict overridden by the trainer: {', '.join(p.row.overridden)}"
    body = f"<a href=\"#pair-{p.row.id}\">{e(mark)}</a>" if p.row is not None and p.row.result is not None else e(mark)
    return f"<td class=\"cell\" style=\"background:{COLOURS[p.state]}\" title=\"{e(title)}\">{body}</td>"


def _board(scores: list[Score], won: str, played: str) -> str:
    rows = ["<table><tr><th>#</th><th>learner</th><th>" + won + "</th><th>share</th><th>exercise</th><th>length</th><th></th></tr>"]
    rank = 0
    for s in scores:
        if s.out is None:
            rank += 1
        note = f"<span class=\"warn\">{e(s.out)}</span>" if s.out else ""
        rows.append(f"<tr><td>{rank if s.out is None else ''}</td><td>{e(s.learner)}</td><td>{s.won}/{s.played} {played}</td>"
                    f"<td>{_share(s)}</td><td><code>{e(s.exercise)}</code></td><td>{s.length}</td><td>{note}</td></tr>")
    if not scores:
        rows.append("<tr><td colspan=\"7\" class=\"muted\">nobody</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _exchange(p: PairView, astore: ArenaStore) -> str:
    row = p.row
    assert row is not None
    result = row.result or {}
    out = [f"<div class=\"exchange\" id=\"pair-{row.id}\"><h4>{e(p.attacker)}'s attack → {e(p.defender)}'s defence: "
           f"{e(p.state)}</h4>"]
    if p.why:
        out.append(f"<p class=\"muted\">{e(p.why)}</p>")
    conversations = (result.get("cases") or [{}])[0].get("conversations") or []
    placed = result.get("attack") if isinstance(result.get("attack"), str) else None
    for number, messages in enumerate(conversations, 1):
        if len(conversations) > 1:
            out.append(f"<p class=\"muted\">sample {number}</p>")
        for m in messages:
            who = who_wrote(m, placed)
            css = {"attack": "attack", "defence": "defence", "model": "answer"}.get(who, "")
            calls = "".join(f"<div><code>→ {e(c.get('name'))} {e(c.get('arguments'))}</code></div>" for c in m.get("calls") or [])
            tool = f" {e(m.get('tool'))}" if m.get("role") == "tool" and m.get("tool") else ""
            content = f"<pre>{e(str(m.get('content') or '')[:4000])}</pre>" if m.get("content") else ""
            out.append(f"<div class=\"msg {css}\"><div class=\"who\">{e(m.get('role'))}{tool} · {e(WHO[who])}</div>{content}{calls}</div>")
    if result.get("reason"):
        out.append(f"<p>{e(result['reason'])}</p>")
    for c in result.get("criteria", []):
        flag = "✓" if c.get("passed") else ("?" if c.get("ungraded") else "✗")
        overridden = " † (overridden by the trainer)" if c.get("overridden") else ""
        out.append(f"<p>{flag} <b>{e(c.get('id'))}</b> ({e(c.get('check'))}): {e(c.get('reason'))}{overridden}</p>")
    out.append(f"<p class=\"muted\">{row.prompt_tokens + row.completion_tokens} tokens · ${row.cost_usd:.6f}</p></div>")
    return "".join(out)
