"""Signed certificates of mastery (docs/trainers.md, "Certificates"): Ed25519 keys, signing and offline checking.

What is signed is the canonical JSON of the payload (sorted keys, no spaces, UTF-8), and a check
re-serialises the payload it parsed the same way: the file's layout (indentation, key order) is not
part of the certificate, its content is, so a certificate stays valid when pretty-printed and fails on
any changed value, signature or key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from lab.classroom.submissions import name_problem, normalise
from lab.errors import LabError, shown
from lab.practice.mastery import (
    MASTERED,
    ExerciseInfo,
    TrackMastery,
    Try,
    cohort_exercises,
    mastery,
    tries_from_attempts,
    tries_from_results,
)
from lab.settings import paths

FORMAT = "prompt-lab-certificate/1"
PRIVATE_NAME, PUBLIC_NAME = "certificate-key.pem", "certificate-key.pub"
MAX_FILE_BYTES = 5_000_000  # a certificate is a few kilobytes; anything this big is something else
NO_KEY = "No signing key at {path}: run `lab keygen` first (or pass --key FILE)."


class CertificateInvalid(LabError):
    """The file is a certificate, but something in it was changed or it was signed by another key (exit 1)."""


class NotACertificate(LabError):
    """The file is not a Prompt Lab certificate at all (exit 2)."""


# ---------------------------------------------------------------- keys


def key_dir() -> Path:
    """Where `lab keygen` writes by default: the user data folder (`LAB_HOME` moves it)."""
    return paths.data_dir() / "keys"


def default_private_key() -> Path:
    return key_dir() / PRIVATE_NAME


def fingerprint(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    public_key: str  # base64 of the raw 32 bytes, as certificates embed it
    fingerprint: str


def keygen(folder: Path | None = None) -> KeyPair:
    """A new Ed25519 key pair in `folder` (default `key_dir()`). The private key is created owner-only
    (0o600) in the same call that creates the file, so it is never readable by others even for a moment;
    an existing key is never overwritten (certificates signed with it would lose their issuer)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = Path(folder) if folder is not None else key_dir()
    private_path, public_path = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for existing in (private_path, public_path):
        if existing.exists():
            raise LabError(f"{existing} already exists: keep using that key, or pass --out DIR for a new pair elsewhere.")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise LabError(f"Cannot create {folder}: {exc.strerror}; pass --out DIR with a folder you can write.") from exc
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:  # made by another process since the check above
        raise LabError(f"{private_path} already exists: keep using that key, or pass --out DIR for a new pair elsewhere.") from exc
    except OSError as exc:
        raise LabError(f"Cannot write {private_path}: {exc.strerror}; pass --out DIR with a folder you can write.") from exc
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a umask cannot widen the mode, but a pre-set ACL default could: set it outright
        os.write(fd, pem)
    finally:
        os.close(fd)
    public_path.write_bytes(public_pem)
    raw = raw_public(key.public_key())
    return KeyPair(private_path, public_path, b64(raw), fingerprint(raw))


def load_private_key(path: Path | None = None) -> Any:
    """The signing key at `path` (default: where `lab keygen` writes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path) if path is not None else default_private_key()
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise LabError(NO_KEY.format(path=path)) from exc
    except OSError as exc:
        raise LabError(f"Cannot read the signing key {path}: {exc.strerror}.") from exc
    if b"PUBLIC KEY" in data and b"PRIVATE KEY" not in data:
        raise LabError(f"{path} is a public key: --key takes the private key `lab keygen` wrote ({PRIVATE_NAME}).")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise LabError(f"{path} can be read by other users (mode {path.stat().st_mode & 0o777:o}): run `chmod 600 {path}`, then sign again.")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise LabError(f"{path} is not a private key `lab keygen` wrote (an unencrypted PKCS8 PEM): pass the right file with --key.") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise LabError(f"{path} is not an Ed25519 key: make one with `lab keygen`.")
    return key


def read_public_key(given: str) -> bytes:
    """A public key as the user gives it to `lab verify --key`: a `.pub` file from `lab keygen`, a file
    holding the base64 key, or the base64 key itself (as `lab keygen` prints it). The raw 32 bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(given)
    text: str | bytes = given
    try:
        if path.is_file():
            text = path.read_bytes()
    except OSError as exc:
        raise LabError(f"Cannot read {given}: {exc.strerror}.") from exc
    if isinstance(text, bytes):
        if b"PRIVATE KEY" in text:
            raise LabError(f"{given} is a private key: give --key the public key ({PUBLIC_NAME}) and keep the private one to yourself.")
        if b"PUBLIC KEY" in text:
            try:
                key = serialization.load_pem_public_key(text)
            except ValueError as exc:
                raise LabError(f"{given} is not a readable public key: give the {PUBLIC_NAME} file `lab keygen` wrote.") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise LabError(f"{given} is not an Ed25519 public key: give the {PUBLIC_NAME} file `lab keygen` wrote.")
            return raw_public(key)
        text = text.decode("ascii", errors="replace")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise LabError(f"--key {given!r} is neither a public key file nor a base64 public key (as `lab keygen` prints it).")
    return raw


# ---------------------------------------------------------------- signing


def canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def sign(payload: Mapping[str, Any], key: Any) -> dict[str, Any]:
    """The certificate document: the payload, its signature and the key that made it."""
    return {"payload": dict(payload), "signature": b64(key.sign(canonical(payload))), "public_key": b64(raw_public(key.public_key()))}


def safe_name(text: str) -> str:
    """A file-name part from a learner or track name: other characters become `_` (a name is never a path)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"
    return cleaned[:100]


def learner_stems(names: Iterable[str]) -> dict[str, str]:
    """The file-name part of each learner's certificates, two learners never sharing one.

    A plain name (letters, digits, `.`, `_`, `-`) is used as it is, unless another plain name differs
    from it only in case (one file on a case-insensitive disk); any other name is made plain and given
    `~` and the start of its SHA-256, so `a/b` (`a_b~…`) never takes `a_b`'s file. `~` is never in a
    plain name, so a changed name cannot meet an unchanged one."""
    names = list(names)
    folded = Counter(n.lower() for n in names if safe_name(n) == n)
    stems = {}
    for name in names:
        plain = safe_name(name)
        if plain == name and folded[name.lower()] == 1:
            stems[name] = name
        else:
            stems[name] = f"{plain[:80]}~{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    return stems


def write_certificate(document: Mapping[str, Any], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with paths.replaced_atomically(target) as out:
            out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    except OSError as exc:
        raise LabError(f"Cannot write {target}: {exc.strerror}; choose a folder you can write.") from exc
    return target


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def payload_for(*, learner: str, track: TrackMastery, exercises: Sequence[ExerciseInfo], report_credits: Mapping[str, Any],
                cohort: str | None, key: Any, kind: str, date: str | None = None) -> dict[str, Any]:
    items = []
    for e in exercises:
        c = report_credits.get(e.id)
        score = None if c is None or c.score is None else round(c.score, 4)
        items.append({"id": e.id, "score": score, "exercise_hash": None if c is None else c.exercise_hash,
                      "passed": bool(c and c.passed)})
    return {"format": FORMAT, "learner": learner, "track": track.track, "exercises": items, "mastery": round(track.mastery, 4),
            "date": date or today(), "cohort": cohort, "issuer": {"fingerprint": fingerprint(raw_public(key.public_key()))},
            "kind": kind}


@dataclass(frozen=True)
class Refusal:
    learner: str
    mastery: float
    band: str
    not_passed: tuple[str, ...]

    @property
    def reason(self) -> str:
        from lab.practice.report import score_label

        shown = list(self.not_passed[:8]) + ([f"and {len(self.not_passed) - 8} more"] if len(self.not_passed) > 8 else [])
        missing = f"; not passed: {', '.join(shown)}" if self.not_passed else ""
        # rounded down below the bar: a mastery of 0.847 "is below 0.85", never "0.85 is below 0.85"
        mastery = score_label(self.mastery, False, MASTERED)
        return f"{self.learner}: not certified, mastery {mastery} ({self.band}) is below {MASTERED:.2f}{missing}."


@dataclass(frozen=True)
class Written:
    learner: str
    path: Path
    mastery: float
    not_passed: tuple[str, ...]


@dataclass
class CertifyOutcome:
    written: list[Written] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _decide(learner: str, track: str, exercises: list[ExerciseInfo], tries: list[Try], *, key: Any, cohort: str | None,
            kind: str, target: Path, date: str | None) -> Written | Refusal:
    report = mastery(exercises, tries)
    standing = report.track(track)
    assert standing is not None  # the exercises are the track's
    if standing.band != "mastered":
        return Refusal(learner, standing.mastery, standing.band, standing.not_passed)
    document = sign(payload_for(learner=learner, track=standing, exercises=sorted(exercises, key=lambda e: e.order),
                                report_credits=report.credits, cohort=cohort, key=key, kind=kind, date=date), key)
    return Written(learner, write_certificate(document, target), standing.mastery, standing.not_passed)


def certify(cohort_dir: Path, track: str, key: Any, *, levels: Mapping[str, int], learner: str | None = None,
            date: str | None = None) -> CertifyOutcome:
    """A certificate in `DIR/certificates/<learner>-<track>.json` for each learner of the cohort who has
    mastered `track` over the track's exercises present in the cohort; the others are refused with why.
    Results are read through `CohortStore.results()`, so a trainer's overrides count."""
    from lab.classroom.cohort import DATABASE, CohortStore

    folder = Path(cohort_dir)
    if not (folder / DATABASE).is_file():
        raise LabError(f"{folder} has no {DATABASE}: give the folder you graded into (`lab grade … --out DIR`).")
    with CohortStore(folder) as store:
        # the track's results alone (each with its submission's hints), not the whole class in every track
        tracks = list(store.names("track"))
        learners = list(store.names("learner"))
        rows = list(store.iter_results(where="r.track = ?", params=(track,)))
        levels = {**store.levels(), **levels}  # your catalogue's levels, else those `lab grade` recorded
    if track not in tracks:
        raise LabError(f"No track '{track}' in the cohort {folder}. Its tracks: {', '.join(tracks) or 'none (nothing graded yet)'}.")
    if learner is not None and learner not in learners:
        raise LabError(f"No learner '{shown(learner)}' in the cohort {folder}. Its learners: {', '.join(shown(n) for n in learners)}.")
    outcome = CertifyOutcome()
    stems = learner_stems(learners)  # over the whole cohort: `--learner` names the same file as a run for everyone
    exercises, unweighted = cohort_exercises(rows, levels)
    outcome.warnings += [f"{x} is not in your exercises, so it weighs 1; add its folder with --exercises DIR." for x in unweighted]
    tries = tries_from_results(rows)
    cohort_name = folder.resolve().name
    for name in [learner] if learner is not None else learners:
        problem = name_problem(normalise(name))
        if problem or normalise(name) != name:  # a cohort graded before names were checked (docs/trainers.md, "Limits")
            outcome.warnings.append(f"the learner {shown(name)} is not certified: {problem or 'the name has spaces around it or is not in NFC form'}; "
                                    "fix the name in the submissions and grade again.")
            continue
        target = folder / "certificates" / f"{stems[name]}-{safe_name(track)}.json"
        decided = _decide(name, track, exercises, tries.get(name, []), key=key, cohort=cohort_name,
                          kind="trainer", target=target, date=date)
        (outcome.written if isinstance(decided, Written) else outcome.refused).append(decided)  # type: ignore[arg-type]
    return outcome


def self_attest(store: Any, learner: str, track: str, catalogue: Sequence[ExerciseInfo], key: Any, *,
                target: Path | None = None, date: str | None = None) -> Written | Refusal:
    """The learner signs their own progress (the learner store) with their own key: kind `self-attested`,
    over every exercise of the track in their catalogue."""
    exercises = [e for e in catalogue if e.track == track]
    if not exercises:
        tracks = sorted({e.track for e in catalogue})
        raise LabError(f"No track '{track}'. Tracks: {', '.join(tracks) or 'none'}.")
    target = target or paths.data_dir() / "certificates" / f"{learner_stems([learner])[learner]}-{safe_name(track)}.json"
    return _decide(learner, track, exercises, tries_from_attempts(store.attempts()), key=key, cohort=None,
                   kind="self-attested", target=target, date=date)


# ---------------------------------------------------------------- checking


class _Exercise(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    score: float | None
    exercise_hash: str | None


class _Issuer(BaseModel):
    model_config = ConfigDict(extra="allow")

    fingerprint: str


class CertificatePayload(BaseModel):
    """What a valid certificate's payload holds; fields added by later versions are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    format: Literal["prompt-lab-certificate/1"]
    learner: str
    track: str
    exercises: list[_Exercise]
    mastery: float
    date: str
    cohort: str | None
    issuer: _Issuer
    kind: Literal["trainer", "self-attested"]


@dataclass(frozen=True)
class Verified:
    payload: CertificatePayload
    fingerprint: str

    @property
    def self_attested(self) -> bool:
        return self.payload.kind == "self-attested"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise CertificateInvalid(f"the key '{k}' appears twice, which a certificate never has: the file was changed.")
        seen[k] = v
    return seen


def _no_constants(name: str) -> Any:
    raise NotACertificate(f"it holds {name}, which is not JSON a certificate can have.")


def _decode(value: str, what: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateInvalid(f"the {what} is not valid base64: it was changed.") from None
    if len(raw) != size:
        raise CertificateInvalid(f"the {what} is {len(raw)} bytes, not {size}: it was changed.")
    return raw


def verify(data: bytes, expected_key: bytes | None = None) -> Verified:
    """Check a certificate's bytes offline. Raises NotACertificate when it is not one, CertificateInvalid
    (with the reason) when a byte of the payload, signature or key changed or `expected_key` differs."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(data) > MAX_FILE_BYTES:
        raise NotACertificate(f"it is {len(data)} bytes; a certificate is a few kilobytes.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotACertificate("it is not UTF-8 text; a certificate is a JSON file written by `lab certify`.") from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise NotACertificate(f"it is not JSON (line {exc.lineno}: {exc.msg}); a certificate is a JSON file written by `lab certify`.") from None
    if not isinstance(document, dict):
        raise NotACertificate("it is not a JSON object with payload, signature and public_key.")
    missing = [k for k in ("payload", "signature", "public_key") if k not in document]
    if missing:
        raise NotACertificate(f"it has no {', '.join(missing)}; a certificate holds payload, signature and public_key.")
    payload, signature, public_key = document["payload"], document["signature"], document["public_key"]
    if not isinstance(payload, dict) or not isinstance(signature, str) or not isinstance(public_key, str):
        raise NotACertificate("payload must be an object and signature and public_key base64 text.")
    raw_key = _decode(public_key, "public key", 32)
    raw_signature = _decode(signature, "signature", 64)
    found = fingerprint(raw_key)
    issuer = payload.get("issuer")
    named = issuer.get("fingerprint") if isinstance(issuer, dict) else None
    if named != found:
        raise CertificateInvalid(f"the embedded public key (fingerprint {found}) is not the issuer's the payload names "
                                 f"({named}): the key or the issuer was changed.")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_signature, canonical(payload))
    except InvalidSignature:
        raise CertificateInvalid("the signature does not match the payload: the payload or the signature was changed after signing.") from None
    except ValueError:
        raise CertificateInvalid("the public key is not a valid Ed25519 key: it was changed.") from None
    if expected_key is not None and expected_key != raw_key:
        raise CertificateInvalid(f"signed by another key: fingerprint {found}, expected {fingerprint(expected_key)}.")
    try:
        parsed = CertificatePayload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if where == "format":
            raise NotACertificate(f"its format is {payload.get('format')!r}, not {FORMAT!r}: upgrade Prompt Lab if it is newer.") from None
        raise NotACertificate(f"its payload's {where} is wrong ({first['msg']}), though it is signed.") from None
    return Verified(parsed, found)


def verify_file(path: Path, expected_key: bytes | None = None) -> Verified:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotACertificate("there is no such file.") from None
    except IsADirectoryError:
        raise NotACertificate("it is a folder; give a certificate file (DIR/certificates/NAME-TRACK.json).") from None
    except OSError as exc:
        raise NotACertificate(f"it cannot be read ({exc.strerror}).") from None
    return verify(data, expected_key)
