"""The lab's screens, one module each."""
