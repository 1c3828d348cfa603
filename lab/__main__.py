from lab.cli import run

raise SystemExit(run())
