"""What the lab is told and where it keeps things: settings, paths, SQLite habits, its own words."""
