"""How alike two learners' texts are: word 3-grams, their CRCs, and MinHash bands (`fingerprint`).

The report finds near-identical prompts from these (lab/classroom/report.py, `NearIdentical`). A text's
fingerprint is worked out while its submission is graded, in the time the grading waits for the model,
and kept with the submission in cohort.db: the report, written after the last answer, reads it instead
of working it out again (a fifth of the report's time).
"""

from __future__ import annotations

import re
import zlib
from typing import Any

NEAR = 0.8  # Jaccard similarity of word 3-grams from which two prompts count as near-identical
BANDS, ROWS = 12, 2  # MinHash banding: pairs of about NEAR similarity meet in a band with probability ~1

_MASKS = tuple(zlib.crc32(f"mask {i}".encode()) * 2654435761 % (1 << 32) for i in range(BANDS * ROWS))


def shingles(text: str) -> frozenset[str]:
    words = re.findall(r"\w+|[{}]+", text.lower())
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i:i + 3]) for i in range(len(words) - 2))


def hashes(found: frozenset[str]) -> list[int]:
    """One CRC per shingle (deterministic across runs, unlike hash()): what the similarity is measured on."""
    return sorted({zlib.crc32(s.encode()) for s in found})


def signature(crcs: list[int]) -> list[int]:
    """MinHash: the shingles' CRCs turned into BANDS * ROWS hash functions by XOR with fixed masks."""
    return [min(map(mask.__xor__, crcs)) for mask in _MASKS]


def bands(crcs: list[int]) -> list[int]:
    """The signature's bands, each as one integer SQLite can hold (63 bits)."""
    sig = signature(crcs)
    return [((sig[b * ROWS] & 0x7FFFFFFF) << 32) | sig[b * ROWS + 1] for b in range(BANDS)]


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def fingerprint(text: str) -> str:
    """A text's CRCs and bands as one line ("CRC CRC …|BAND … BAND"), as cohort.db keeps them."""
    crcs = hashes(shingles(text))
    return f"{' '.join(map(str, crcs))}|{' '.join(map(str, bands(crcs)))}"


def read_fingerprint(line: str) -> tuple[str, list[int]] | None:
    """(the CRCs as the report keeps them, the bands) from a stored fingerprint; None when it is not one."""
    crcs, _, found = line.partition("|")
    numbers = found.split()
    if len(numbers) != BANDS or not all(n.isdigit() for n in numbers):
        return None
    return crcs, [int(n) for n in numbers]
