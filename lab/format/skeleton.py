"""`lab new TRACK/NAME`: a new exercise file that already validates and checks, for a trainer to edit.

The skeleton is a working exercise, not a form with blanks: every key a trainer is likely to change is
there with a comment, its rubric is proven by one passing and one failing example, and `lab check`
is clean before the first edit, so each edit after it can be checked on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.errors import LabError

_PART = re.compile(r"[a-z0-9][a-z0-9-]*")

SKELETON = """\
---
format: 1
id: {id}
title: {title}                  # what the learner sees in the catalogue
level: 1                        # 1 (first steps) .. 5 (expert)
skills: [clarity]               # one word each, e.g. delimiters, few-shot
minutes: 5
lang: en
writes: prompt                  # prompt | system | answer
model:
  temperature: 0
  max_tokens: 200
vars:
  topic: version control        # every template and the learner's text can use {{{{ topic }}}}
cases:                          # one model call per case
  - name: only
rubric:
  pass: 0.8
  criteria:
    - id: on-topic
      check: icontains
      value: "{{{{ topic }}}}"
      feedback: Name the topic in your prompt so the answer stays on it.
    - id: short
      check: max-words
      value: 60
      feedback: Say how long the answer may be.
hints:
  - Say what the answer is about and how long it may be.
examples:                       # `lab check` grades these: keep one that passes and one that fails
  - attempt: "In at most three sentences, say what {{{{ topic }}}} is for."
    outputs:
      only: "Version control records every change to a set of files, so any version can be restored."
    expect: pass
  - attempt: "Tell me a story."
    outputs:
      only: "Once upon a time there was a dragon who lived in a cave high above a quiet village, and every evening it flew down to the river to drink, watching the children play and the farmers come home from the fields, wondering whether anyone would ever dare to climb the long path to its door and ask it for help."
    expect: fail
---
{{% block brief %}}
## Your task

Get the model to say, in at most 60 words, what {{{{ topic }}}} is for.
{{% endblock %}}
{{% block starter %}}Tell me about {{{{ topic }}}}.{{% endblock %}}
{{% block solution %}}In at most three sentences, say what {{{{ topic }}}} is for.{{% endblock %}}
"""


def check_new_id(exercise_id: str) -> tuple[str, str]:
    """TRACK and NAME of a new exercise's id, or a LabError saying how to write one."""
    parts = exercise_id.strip().split("/")
    if len(parts) != 2 or not all(_PART.fullmatch(p) for p in parts):
        raise LabError(f"'{exercise_id}' is not TRACK/NAME: write two parts of lower-case letters, digits and dashes, "
                       "e.g. `lab new my-course/first-prompt`.")
    return parts[0], parts[1]


def skeleton_text(exercise_id: str) -> str:
    _, name = check_new_id(exercise_id)
    title = name.replace("-", " ").capitalize()
    return SKELETON.format(id=exercise_id, title=title)


def write_skeleton(root: Path, exercise_id: str) -> Path:
    """Write the skeleton of `exercise_id` at ROOT/TRACK/NAME.j2; never over an existing file."""
    track, name = check_new_id(exercise_id)
    path = root / track / f"{name}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": refuses an existing file, even one made meanwhile
            out.write(skeleton_text(exercise_id))
    except FileExistsError:
        raise LabError(f"{path} already exists: choose another NAME, or edit that file.") from None
    return path
