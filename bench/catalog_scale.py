"""How the catalogue scales: `lab list` and the TUI's first catalog frame at 40, 200 and 1,000 exercises.

It builds each course itself (the bundled curriculum copied into numbered folders until the count is
reached), then, in one run, for each size:

- `lab list` warm (the index built by a first run) and cold (no cache folder at all), median wall time,
  and the warm time as a ratio of `lab list` over the bundled 40, timed between the course's runs;
- peak RSS of `lab list` (the child's own maximum resident set, from wait4);
- the TUI's first catalog frame from a cold start (empty LAB_HOME: no index, no start-up cache),
  timed on a pseudo-terminal until the line under the filled list is drawn, as a ratio of a minimal
  Textual app's first frame (Header, Static, Footer), timed the same way in the same run;
- in-process: opening one exercise (full validation of one file), a type-to-filter redraw of the
  catalog with every exercise listed and the same keystroke without the filter, and an exercise's screen;
- the machine's load average before and after each size, each TUI pair's ratio (not only the median), and
  the targets met or not, with a warning when the run was taken under load (other work on the CPUs).

    .venv/bin/python bench/catalog_scale.py [--runs 5] [--sizes 40 200 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tui_startup import MINIMAL_APP, first_seen  # noqa: E402  (the same pty timing as the start-up bench)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "exercises"
LAB = Path(sys.executable).with_name("lab")
FILLED = "enter opens the highlighted exercise"


def build_course(target: Path, size: int) -> Path:
    """`size` exercises: copies of the bundled tracks in c01/, c02/ ... (partials copied along)."""
    exercises = sorted(p for p in BUNDLED.rglob("*.j2") if not p.name.startswith("_"))
    partials = sorted(p for p in BUNDLED.glob("_*.j2"))
    made, copy = 0, 0
    while made < size:
        copy += 1
        folder = target / f"c{copy:02}"
        for partial in partials:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(partial, folder / partial.name)
        for source in exercises:
            if made == size:
                break
            dest = folder / source.relative_to(BUNDLED)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
            made += 1
    return target


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    env.update(LAB_HOME=str(home), TERM="xterm-256color", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


def timed_list(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `lab list` process."""
    started = time.perf_counter()
    child = subprocess.Popen([str(LAB), "list", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"lab list {' '.join(args)} failed with {child.returncode}")
    return wall, usage.ru_maxrss


def list_figures(course: Path | None, runs: int, scratch: Path) -> dict[str, float]:
    """`lab list` over `course` cold and warm, and warm over the bundled 40 in between (each warm run of
    the course next to one of the bundled list, as the TUI figure pairs the lab with the minimal app:
    this machine's speed drifts by more than the gap between them over a minute)."""
    args = ["--exercises", str(course)] if course else []
    cold, warm, bundled, rss = [], [], [], []
    bundled_home = scratch / "list-home-bundled"
    timed_list([], env_for(bundled_home))  # builds the bundled index once
    for n in range(runs):
        home = scratch / f"list-home-{n}"
        shutil.rmtree(home, ignore_errors=True)
        wall, peak = timed_list(args, env_for(home))
        cold.append(wall)
        rss.append(peak)
        wall, peak = timed_list(args, env_for(home))
        warm.append(wall)
        rss.append(peak)
        bundled.append(timed_list([], env_for(bundled_home))[0])
    return {"cold": statistics.median(cold), "warm": statistics.median(warm), "bundled": statistics.median(bundled),
            "rss_mb": max(rss) / 1024}


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def busy(sample: tuple[float, float, float]) -> bool:
    """Whether other work competed for the CPUs (a 1-minute load above half of them): the figures of such a
    run are slower and noisier than on a quiet machine, the ratios less so."""
    return sample[0] > (os.cpu_count() or 1) * 0.5


def tui_figures(course: Path | None, runs: int, scratch: Path, pairs: list[float] | None = None) -> tuple[float, float]:
    """Median first catalog frame of the lab from a cold start, and of the minimal app, in seconds; the
    ratio of each pair (the two timed back to back) is added to `pairs`."""
    python = sys.executable
    lab_argv = [python, "-m", "lab", *(["--exercises", str(course)] if course else [])]
    lab_times, minimal_times = [], []
    for n in range(runs + 1):  # the first pair warms the page cache and is dropped
        home = scratch / f"tui-home-{n}"
        shutil.rmtree(home, ignore_errors=True)
        (t_min,), _ = first_seen([python, "-c", MINIMAL_APP], ["MINIMAL READY"], env_for(home))
        shutil.rmtree(home, ignore_errors=True)
        (t_lab,), _ = first_seen(lab_argv, [FILLED], env_for(home), limit=60)
        if n:
            minimal_times.append(t_min)
            lab_times.append(t_lab)
            if pairs is not None:
                pairs.append(t_lab / t_min)
    return statistics.median(lab_times), statistics.median(minimal_times)


def in_process_figures(course: Path, scratch: Path) -> tuple[float, float, float, float]:
    """(open one exercise, type-to-filter redraw, the same keystroke without the filter, open an exercise's
    screen) in seconds, with the whole course listed: the first is the engine's full validation alone,
    the last from the call to the painted screen."""
    os.environ["LAB_HOME"] = str(scratch / "in-process-home")
    from lab.tui.app import LabApp
    from lab.tui.screens.catalog import ExerciseList

    async def measure() -> tuple[float, float, float, float]:
        app = LabApp([str(course)], cursor_blink=False, preload_litellm=False)
        async with app.run_test(size=(100, 32)) as pilot:
            while app.session is None:
                await pilot.pause(0.05)
            session = app.session
            # what a learner meets a moment after the list is drawn: the start-up imports done, the
            # background check of the new course still running (in its own process)
            while any(w.group == "start-up" and not w.is_finished for w in app.workers):
                await pilot.pause(0.05)
            opens = []
            middle = len(session.catalog.exercises) // 2
            for entry in session.catalog.exercises[middle:middle + 5]:
                started = time.perf_counter()
                session.open_exercise(entry.id)
                opens.append(time.perf_counter() - started)
            opened = statistics.median(opens)
            await pilot.press("slash")
            listing = app.screen.query_one(ExerciseList)
            screen = app.screen
            field = screen.query_one("#filter-text")
            refilter = type(screen)._refilter_text

            async def keystrokes(filtering: bool) -> float:
                """Median of typing "three", from each key to the frame that shows it: with the filter, the
                new list; without (the floor), only the Input's own change, Textual's work alone.
                Pilot's own waiting for idle is not what a learner waits for, so it is not timed."""
                times = []
                for key in "three":
                    while screen._rest_of_list:  # the previous list complete: its count is what this key narrows
                        await pilot.pause(0.05)
                    await pilot.pause(0.2)  # and its last slice laid out: a learner reads before typing on
                    before = listing.option_count
                    painted = asyncio.Event()

                    def refilter_then_mark(done: asyncio.Event = painted) -> None:
                        if filtering:
                            refilter(screen)
                        screen.call_after_refresh(done.set)

                    screen._refilter_text = refilter_then_mark
                    started = time.perf_counter()
                    field.insert_text_at_cursor(key)
                    await painted.wait()
                    times.append(time.perf_counter() - started)
                    await pilot.pause()
                    assert listing.option_count <= before
                return statistics.median(times)

            floor = await keystrokes(filtering=False)
            field.value = ""
            await pilot.pause(0.2)
            redraw = await keystrokes(filtering=True)
            screens = []
            for entry in session.catalog.exercises[100:600:100]:  # five exercises, none opened before
                painted = asyncio.Event()
                started = time.perf_counter()
                app.open_exercise(entry.id)
                app.screen.call_after_refresh(painted.set)
                await painted.wait()
                screens.append(time.perf_counter() - started)
                await pilot.pause(0.3)
                app.pop_screen()
                await pilot.pause(0.3)
            return opened, redraw, floor, statistics.median(screens)

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 200, 1000])
    args = parser.parse_args()

    loads = [load()]
    targets: list[tuple[str, float, float, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        bundled = list_figures(None, args.runs, scratch)
        print(f"runs: {args.runs} per figure (medians), {sys.executable}")
        print(f"lab list over the bundled curriculum: warm {bundled['warm']:.2f} s, cold {bundled['cold']:.2f} s\n")
        print("| exercises | lab list warm | ÷ bundled list | lab list cold | peak RSS | cold TUI catalog frame | ÷ minimal Textual "
              "| open one | filter redraw | keystroke, no filter | exercise screen |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in args.sizes:
            course = build_course(scratch / f"course-{size}", size)
            listing = list_figures(course, args.runs, scratch)
            pairs: list[float] = []
            lab_frame, minimal_frame = tui_figures(course, args.runs, scratch, pairs)
            last = size == max(args.sizes)
            opened, redraw, floor, screen = in_process_figures(course, scratch) if last else (float("nan"),) * 4
            loads.append(load())
            print(f"| {size} | {listing['warm']:.2f} s | {listing['warm'] / listing['bundled']:.2f}× | {listing['cold']:.2f} s | "
                  f"{listing['rss_mb']:.0f} MB | {lab_frame:.2f} s | {lab_frame / minimal_frame:.2f}× | "
                  + (f"{opened * 1000:.0f} ms | {redraw * 1000:.0f} ms | {floor * 1000:.0f} ms | {screen * 1000:.0f} ms |"
                     if last else "| | | |"), flush=True)
            print(f"   ({size}: TUI frame ÷ minimal, pair by pair: {', '.join(f'{r:.2f}×' for r in pairs)}; "
                  f"load average {', '.join(f'{x:.2f}' for x in loads[-1])}{' — BUSY' if busy(loads[-1]) else ''})", flush=True)
            if last:
                targets += [
                    (f"lab list warm ÷ bundled, {size}", listing["warm"] / listing["bundled"], 1.5, listing["warm"] / listing["bundled"] <= 1.5),
                    (f"cold TUI first catalog frame ÷ minimal Textual app, {size}", lab_frame / minimal_frame, 2.0, lab_frame / minimal_frame <= 2.0),
                    (f"filter redraw, {size} (ms)", redraw * 1000, 50, redraw < 0.05),
                    (f"open one exercise, {size} (ms)", opened * 1000, 150, opened < 0.15),
                    (f"peak RSS of lab list, {size} (MB)", listing["rss_mb"], 120, listing["rss_mb"] < 120),
                ]
    loads.append(load())
    print("\n| target | measured | limit | |\n|---|---|---|---|")
    for name, value, limit, met in targets:
        print(f"| {name} | {value:.2f} | {limit:g} | {'met' if met else 'NOT MET'} |")
    print(f"\nload average (1, 5, 15 min) on {os.cpu_count()} CPU(s): start {', '.join(f'{x:.2f}' for x in loads[0])}; "
          f"end {', '.join(f'{x:.2f}' for x in loads[-1])}")
    if any(busy(sample) for sample in loads):
        print("Taken UNDER LOAD: other work was running (a 1-minute load above half the CPUs at some point), so these figures are "
              "slower and noisier than on a quiet machine; the targets are for a quiet one.")


if __name__ == "__main__":
    main()
