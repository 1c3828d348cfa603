"""The exercise format and the catalogue: reading, checking and rendering exercise files."""
