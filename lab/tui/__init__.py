"""The learner's terminal app (`lab` with no command). Kept import-light: see `lab.tui.app`."""
