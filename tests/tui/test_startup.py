"""Start-up stays light: the first frame needs neither litellm nor the engine's heavy imports, and
litellm is imported later, off the main thread. Run in a fresh interpreter (this one has litellm)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import asyncio, json, sys, threading

    imports = []

    class Watch:
        def find_spec(self, name, path=None, target=None):
            if name == "litellm":
                imports.append(threading.current_thread().name)
            return None

    sys.meta_path.insert(0, Watch())
    from lab.tui.app import LabApp
    heavy = ["litellm", "pydantic", "jinja2", "lab.format.loader", "lab.practice.store"]
    at_import = [m for m in heavy if m in sys.modules]

    class Probe(LabApp):
        def on_mount(self):
            self.at_first_frame = None
            self.call_after_refresh(self.first_frame)

        def first_frame(self):
            self.at_first_frame = [m for m in heavy if m in sys.modules]

    async def main():
        from lab.models import llm
        app = Probe([], cursor_blink=False)
        async with app.run_test() as pilot:
            for _ in range(1200):  # bounded: 60 s
                await pilot.pause(0.05)
                if llm.is_loaded():
                    break
            result = {"at_import": at_import, "at_first_frame": app.at_first_frame, "loaded": llm.is_loaded(),
                      "import_threads": imports, "session": app.session is not None}
        print(json.dumps(result))

    asyncio.run(main())
""")


@pytest.mark.live
def test_litellm_is_imported_after_the_first_frame_off_the_main_thread(lab_home):
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          env={"LAB_HOME": str(lab_home), "PATH": "", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["at_import"] == []
    assert result["at_first_frame"] == []  # nothing heavy was needed to draw the catalog screen
    assert result["session"] and result["loaded"]
    assert result["import_threads"] and "MainThread" not in result["import_threads"]
