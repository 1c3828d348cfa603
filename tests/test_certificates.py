"""Certificates: keygen -> certify -> verify, every way a certificate can be changed, and each bad input."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
from fixtures.exercise_files import minimal, write_exercise
from review_cohort import graded_cohort

from lab.classroom.certificates import CertificateInvalid, NotACertificate, canonical, fingerprint, load_private_key, sign, verify
from lab.classroom.cohort import CohortStore
from lab.classroom.records import task_key
from lab.classroom.review import decide, queue
from lab.classroom.submissions import Submission
from lab.cli import main
from lab.practice.store import Store

TRACK = "basics"
LEVELS = {"t/one": 1, "t/two": 2, "t/three": 3}


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for exercise_id, level in LEVELS.items():
        write_exercise(root, exercise_id + ".j2", minimal(id=exercise_id, title=exercise_id, track=TRACK, level=level, skills=["clarity"]))
    write_exercise(root, "o/other.j2", minimal(id="o/other", title="other", track="other", level=1))
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_cohort(folder: Path, rows: list[tuple[str, str, str, float | None, bool | None, int, str]]) -> Path:
    """A cohort through CohortStore as `lab grade` leaves it: (learner, exercise, track, score, passed, hints, status)."""
    subs = {(learner, exercise): Submission(learner, exercise, f"prompt of {learner}", Path("in.jsonl"), n + 1, exercise_hash=f"hash-{exercise}",
                                            hints_used=hints)
            for n, (learner, exercise, _track, _s, _p, hints, _st) in enumerate(rows)}
    with CohortStore(folder) as store:
        store.add_submissions(subs.values())
        store.prepare([{
            "learner": learner, "exercise": exercise, "task": task_key(learner, exercise), "submission": subs[(learner, exercise)].key,
            "prompt": subs[(learner, exercise)].prompt, "exercise_hash": f"trainer-{exercise}", "track": track, "skills": ["clarity"],
            "model": "openai/echo", "judge_model": None} for learner, exercise, track, *_ in rows])
        by = {(r.learner, r.exercise): r for r in store.results()}
        for learner, exercise, _track, score, passed, _hints, status in rows:
            if status != "pending":
                store.finish(by[(learner, exercise)].id, status=status, score=score, passed=passed)
    return folder


def standard_cohort(tmp_path: Path) -> Path:
    return make_cohort(tmp_path / "cohort-2026", [
        # ana passes everything (some with hints): mastered
        ("ana", "t/one", TRACK, 1.0, True, 0, "graded"),
        ("ana", "t/two", TRACK, 1.0, True, 3, "graded"),
        ("ana", "t/three", TRACK, 0.9, True, 9, "graded"),
        # bob passed t/one, half of t/two, t/three failed to grade: (1 × 1 + 2 × 0.25 + 0) / 6 = 0.25
        ("bob", "t/one", TRACK, 1.0, True, 0, "graded"),
        ("bob", "t/two", TRACK, 0.5, False, 0, "graded"),
        ("bob", "t/three", TRACK, None, None, 0, "failed"),
        ("ana", "o/other", "other", 0.0, False, 0, "graded"),
    ])


@pytest.fixture
def keys(capsys: pytest.CaptureFixture[str], lab_home: Path) -> Path:
    assert lab(capsys, "keygen")[0] == 0
    return lab_home / "keys"


@pytest.fixture
def certificate(capsys, keys: Path, course: Path, tmp_path: Path) -> Path:
    cohort = standard_cohort(tmp_path)
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))
    assert code == 0, err
    return cohort / "certificates" / "ana-basics.json"


def document(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- keygen


def test_keygen_writes_an_owner_only_private_key_and_prints_only_the_public_one(capsys, lab_home: Path):
    code, out, err = lab(capsys, "keygen")
    assert code == 0, err
    private, public = lab_home / "keys" / "certificate-key.pem", lab_home / "keys" / "certificate-key.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    key = load_private_key(private)
    from cryptography.hazmat.primitives import serialization

    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert f"Public key:  {base64.b64encode(raw_public).decode()}" in out
    assert f"Fingerprint: {fingerprint(raw_public)}" in out and len(fingerprint(raw_public)) == 16
    assert_no_private_key(private, out + err)


def test_keygen_mode_holds_under_a_permissive_umask(capsys, tmp_path: Path):
    old = os.umask(0)
    try:
        assert lab(capsys, "keygen", "--out", str(tmp_path / "k"))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k" / "certificate-key.pem").stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(capsys, keys: Path):
    before = (keys / "certificate-key.pem").read_bytes()
    code, out, err = lab(capsys, "keygen")
    assert code == 2
    assert err == f"lab: {keys / 'certificate-key.pem'} already exists: keep using that key, or pass --out DIR for a new pair elsewhere.\n"
    assert (keys / "certificate-key.pem").read_bytes() == before


def assert_no_private_key(private: Path, text: str) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = private.read_text(encoding="ascii")
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    raw = load_private_key(private).private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    assert body not in text and body[:24] not in text
    assert base64.b64encode(raw).decode() not in text and raw.hex() not in text


# ---------------------------------------------------------------- certify


def test_certify_signs_the_learner_who_mastered_and_refuses_the_other_with_the_reason(capsys, keys: Path, course: Path, tmp_path: Path):
    cohort = standard_cohort(tmp_path)
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))
    assert code == 0, err
    target = cohort / "certificates" / "ana-basics.json"
    assert f"ana: certified, mastery 0.88 → {target}" in out  # (1 × 1.0 + 2 × 0.85 + 3 × 0.85) / 6 = 0.875
    assert "bob: not certified, mastery 0.25 (started) is below 0.85; not passed: t/two, t/three." in err
    assert "1 certificate(s) written, 1 learner(s) refused." in out
    assert not (cohort / "certificates" / "bob-basics.json").exists()
    payload = document(target)["payload"]
    assert payload["format"] == "prompt-lab-certificate/1" and payload["kind"] == "trainer"
    assert (payload["learner"], payload["track"], payload["cohort"]) == ("ana", TRACK, "cohort-2026")
    assert payload["mastery"] == 0.875
    assert payload["exercises"] == [  # the trainer's version of each exercise, in curriculum order
        {"id": "t/one", "score": 1.0, "exercise_hash": "trainer-t/one", "passed": True},
        {"id": "t/two", "score": 1.0, "exercise_hash": "trainer-t/two", "passed": True},
        {"id": "t/three", "score": 0.9, "exercise_hash": "trainer-t/three", "passed": True}]
    assert payload["issuer"] == {"fingerprint": fingerprint(base64.b64decode(document(target)["public_key"]))}
    assert_no_private_key(keys / "certificate-key.pem", out + err)


def test_a_certificate_verifies_and_says_who_what_when(capsys, certificate: Path, keys: Path):
    code, out, err = lab(capsys, "verify", str(certificate))
    assert code == 0, err
    date = document(certificate)["payload"]["date"]
    assert f"Valid certificate: ana · track basics · {date}" in out
    assert "kind: trainer · signed by fingerprint " in out and "· cohort cohort-2026 · mastery 0.88" in out
    assert "exercises: 3 of 3 passed" in out and "  ✓ t/three  0.90" in out
    assert "self-attested" not in out
    code, out, _ = lab(capsys, "verify", str(certificate), "--key", str(keys / "certificate-key.pub"))
    assert code == 0
    code, out, _ = lab(capsys, "verify", str(certificate), "--json")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["payload"]["learner"] == "ana"


def test_everyone_refused_is_exit_1(capsys, keys: Path, course: Path, tmp_path: Path):
    cohort = standard_cohort(tmp_path)
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--learner", "bob", "--exercises", str(course))
    assert code == 1
    assert "bob: not certified, mastery 0.25 (started) is below 0.85" in err
    code, out, err = lab(capsys, "certify", str(cohort), "--track", "other", "--exercises", str(course))
    assert code == 1 and "ana: not certified, mastery 0.00 (not started) is below 0.85; not passed: o/other." in err


def test_pending_and_ungraded_results_do_not_count(capsys, keys: Path, course: Path, tmp_path: Path):
    cohort = make_cohort(tmp_path / "c", [("cy", "t/one", TRACK, 1.0, True, 0, "graded"), ("cy", "t/two", TRACK, 1.0, True, 0, "ungraded"),
                                          ("cy", "t/three", TRACK, None, None, 0, "pending")])
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))
    assert code == 1 and "cy: not certified, mastery 0.17 (started) is below 0.85; not passed: t/two, t/three." in err


def test_a_review_override_turns_a_fail_into_a_certificate_through_the_cli(capsys, keys: Path, tmp_path: Path, cassette, api_base: str):
    # a real cohort graded by judges (tests/review_cohort.py): bob's 0.375 fails t/reviewed, so basics is not mastered
    folder = graded_cohort(tmp_path, api_base, capsys)
    course = str(tmp_path / "course")
    code, out, err = lab(capsys, "certify", str(folder), "--track", "basics", "--learner", "bob", "--exercises", course)
    assert code == 1 and "bob: not certified, mastery 0.19 (started) is below 0.85; not passed: t/reviewed." in err
    # the trainer overrides three of bob's judged verdicts, stored in cohort.db as `lab review` stores them
    with CohortStore(folder) as store:
        items = {(i.learner, i.criterion, i.case): i for i in queue(store)}
        decide(store, items[("bob", "meets", "a")], "override", passed=True, note="it does meet it", reviewer="tina")
        decide(store, items[("bob", "rated", "a")], "override", score=5, reviewer="tina")
        decide(store, items[("bob", "rated", "b")], "override", score=4, reviewer="tina")
    code, out, err = lab(capsys, "certify", str(folder), "--track", "basics", "--learner", "bob", "--exercises", course)
    assert code == 0, err
    assert "bob: certified, mastery 1.00" in out
    # the certificate carries the reviewed score (0.8125: see test_review.py), and it verifies
    certificate = folder / "certificates" / "bob-basics.json"
    assert document(certificate)["payload"]["exercises"] == [
        {"id": "t/reviewed", "score": 0.8125, "exercise_hash": document(certificate)["payload"]["exercises"][0]["exercise_hash"], "passed": True}]
    code, out, err = lab(capsys, "verify", str(certificate), "--key", str(keys / "certificate-key.pub"))
    assert code == 0 and "Valid certificate: bob · track basics" in out


def test_a_review_override_turns_a_pass_into_a_refusal_with_the_reason(capsys, keys: Path, tmp_path: Path, cassette, api_base: str):
    folder = graded_cohort(tmp_path, api_base, capsys)
    course = str(tmp_path / "course")
    code, out, err = lab(capsys, "certify", str(folder), "--track", "basics", "--learner", "ana", "--exercises", course)
    assert code == 0 and "ana: certified, mastery 1.00" in out
    # the trainer disagrees with the judge: one case does not meet the rubric, and both rate 1 of 5
    with CohortStore(folder) as store:
        items = {(i.learner, i.criterion, i.case): i for i in queue(store)}
        decide(store, items[("ana", "meets", "a")], "override", passed=False, note="it only says it does", reviewer="tina")
        decide(store, items[("ana", "rated", "a")], "override", score=1, reviewer="tina")
        decide(store, items[("ana", "rated", "b")], "override", score=1, reviewer="tina")
    # ana: meets 0.5, rated 0, hello 1 -> (0.5 + 2 × 0 + 1) / 4 = 0.375, not passed: credit 0.5 × 0.375
    code, out, err = lab(capsys, "certify", str(folder), "--track", "basics", "--learner", "ana", "--exercises", course)
    assert code == 1, out
    assert "ana: not certified, mastery 0.19 (started) is below 0.85; not passed: t/reviewed." in err


def test_an_exercise_missing_from_the_trainers_catalogue_weighs_1_and_says_so(capsys, keys: Path, tmp_path: Path):
    cohort = make_cohort(tmp_path / "c", [("ana", "gone/ex", "gone", 1.0, True, 0, "graded")])
    code, out, err = lab(capsys, "certify", str(cohort), "--track", "gone")
    assert code == 0
    assert "lab: warning: gone/ex is not in your exercises, so it weighs 1; add its folder with --exercises DIR." in err


def stem(name: str) -> str:
    return "~" + hashlib.sha256(name.encode()).hexdigest()[:12]


def test_a_learner_name_never_becomes_a_path(capsys, keys: Path, course: Path, tmp_path: Path):
    cohort = make_cohort(tmp_path / "c", [(f"../../{n}", e, TRACK, 1.0, True, 0, "graded") for n in ("evil",) for e in LEVELS])
    assert lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))[0] == 0
    assert [p.name for p in (cohort / "certificates").iterdir()] == [f"evil{stem('../../evil')}-basics.json"]
    assert document(cohort / "certificates" / f"evil{stem('../../evil')}-basics.json")["payload"]["learner"] == "../../evil"


def test_two_learners_never_share_a_certificate_file(capsys, keys: Path, course: Path, tmp_path: Path):
    # `a/b` and `a_b` once made the same file, one silently overwriting the other; `Ana` and `ana` would on a
    # case-insensitive disk
    names = ("a/b", "a_b", "Ana", "ana", "bob")
    cohort = make_cohort(tmp_path / "c", [(n, e, TRACK, 1.0, True, 0, "graded") for n in names for e in LEVELS])
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))
    assert code == 0, err
    files = sorted(p.name for p in (cohort / "certificates").iterdir())
    assert files == sorted([f"a_b{stem('a/b')}-basics.json", "a_b-basics.json", f"Ana{stem('Ana')}-basics.json",
                            f"ana{stem('ana')}-basics.json", "bob-basics.json"])
    assert len({f.lower() for f in files}) == 5
    holders = {document(cohort / "certificates" / f)["payload"]["learner"] for f in files}
    assert holders == set(names)
    assert f"a/b: certified, mastery 1.00 → {cohort / 'certificates' / ('a_b' + stem('a/b') + '-basics.json')}" in out
    # --learner names the same file as a run for everyone
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course), "--learner", "ana")
    assert code == 0 and f"ana{stem('ana')}-basics.json" in out


def test_a_name_with_a_control_character_is_never_certified(capsys, keys: Path, course: Path, tmp_path: Path):
    # a cohort.db written before names were checked: the name reaches neither a certificate nor the terminal raw
    cohort = make_cohort(tmp_path / "c", [(n, e, TRACK, 1.0, True, 0, "graded") for n in ("ev\x00il", "ana") for e in LEVELS])
    code, out, err = lab(capsys, "certify", str(cohort), "--track", TRACK, "--exercises", str(course))
    assert code == 0
    assert ("lab: warning: the learner ev\\x00il is not certified: the learner's name holds a control character (U+0000); "
            "use plain text on one line; fix the name in the submissions and grade again.") in err
    assert "\x00" not in out + err
    assert [p.name for p in (cohort / "certificates").iterdir()] == ["ana-basics.json"]


@pytest.mark.parametrize("case", ["no cohort.db", "no track", "no learner", "no key", "public key", "readable key", "no DIR", "DIR and --self"])
def test_certify_bad_input_is_exit_2_with_what_to_change(capsys, lab_home: Path, course: Path, tmp_path: Path, case: str):
    cohort = standard_cohort(tmp_path)
    if case != "no key":
        assert lab(capsys, "keygen")[0] == 0
    argv = ["certify", str(cohort), "--track", TRACK, "--exercises", str(course)]
    expected = {
        "no cohort.db": f"lab: {tmp_path / 'empty'} has no cohort.db: give the folder you graded into (`lab grade … --out DIR`).",
        "no track": f"lab: No track 'nope' in the cohort {cohort}. Its tracks: basics, other.",
        "no learner": f"lab: No learner 'zed' in the cohort {cohort}. Its learners: ana, bob.",
        "no key": f"lab: No signing key at {lab_home / 'keys' / 'certificate-key.pem'}: run `lab keygen` first (or pass --key FILE).",
        "public key": f"lab: {lab_home / 'keys' / 'certificate-key.pub'} is a public key: --key takes the private key `lab keygen` wrote (certificate-key.pem).",
        "readable key": f"lab: {lab_home / 'keys' / 'certificate-key.pem'} can be read by other users (mode 644): run `chmod 600 {lab_home / 'keys' / 'certificate-key.pem'}`, then sign again.",
        "no DIR": "lab: Give the cohort folder (`lab certify DIR --track T`), or --self to sign your own progress.",
        "DIR and --self": "lab: --self signs your own progress, not a cohort's: drop DIR, or drop --self to certify the cohort.",
    }[case]
    if case == "no cohort.db":
        (tmp_path / "empty").mkdir()
        argv[1] = str(tmp_path / "empty")
    elif case == "no track":
        argv[3] = "nope"
    elif case == "no learner":
        argv += ["--learner", "zed"]
    elif case == "public key":
        argv += ["--key", str(lab_home / "keys" / "certificate-key.pub")]
    elif case == "readable key":
        (lab_home / "keys" / "certificate-key.pem").chmod(0o644)
    elif case == "no DIR":
        argv.pop(1)
    elif case == "DIR and --self":
        argv.append("--self")
    code, out, err = lab(capsys, *argv)
    assert code == 2
    assert err.strip() == expected
    assert not (tmp_path / "empty" / "cohort.db").exists()  # a wrong folder is not turned into an empty cohort


# ---------------------------------------------------------------- tampering


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 0.01
    if value is None:
        return "x"
    return value[:-1] + ("Y" if value[-1:] != "Y" else "Z")


def test_changing_any_field_of_the_payload_fails_with_a_reason(certificate: Path):
    original = document(certificate)
    verify(certificate.read_bytes())  # valid as written
    paths = list(leaves(original["payload"]))
    assert len(paths) >= 8 + 3 * 4  # every field, each exercise's too
    for path in paths:
        doc = copy.deepcopy(original)
        node = doc["payload"]
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = changed(node[path[-1]])
        with pytest.raises(CertificateInvalid) as caught:
            verify(json.dumps(doc).encode())
        assert "changed" in str(caught.value), path
    # a field added or removed is a change too
    for edit in (lambda p: p.update(extra="x"), lambda p: p.pop("date"), lambda p: p["exercises"].pop()):
        doc = copy.deepcopy(original)
        edit(doc["payload"])
        with pytest.raises(CertificateInvalid, match="the payload or the signature was changed"):
            verify(json.dumps(doc).encode())


def test_the_layout_is_not_part_of_the_certificate(certificate: Path):
    doc = document(certificate)
    # compact, reordered, non-ASCII escaped: the same content, still valid
    reordered = {"public_key": doc["public_key"], "signature": doc["signature"], "payload": dict(reversed(list(doc["payload"].items())))}
    assert verify(json.dumps(reordered, ensure_ascii=True, separators=(",", ":")).encode()).payload.learner == "ana"


def test_a_changed_signature_fails(capsys, certificate: Path):
    doc = document(certificate)
    raw = bytearray(base64.b64decode(doc["signature"]))
    for index in (0, 31, 63):
        tampered = copy.deepcopy(doc)
        flipped = raw.copy()
        flipped[index] ^= 0x01
        tampered["signature"] = base64.b64encode(bytes(flipped)).decode()
        certificate.write_text(json.dumps(tampered), encoding="utf-8")
        code, out, err = lab(capsys, "verify", str(certificate))
        assert code == 1
        assert err == f"lab: {certificate}: not valid: the signature does not match the payload: the payload or the signature was changed after signing.\n"
    doc["signature"] = "!" + doc["signature"][1:]
    with pytest.raises(CertificateInvalid, match="the signature is not valid base64: it was changed"):
        verify(json.dumps(doc).encode())
    doc["signature"] = doc["signature"][4:]
    with pytest.raises(CertificateInvalid, match="the signature is 61 bytes, not 64"):
        verify(json.dumps(doc).encode())


def test_a_changed_key_fails(capsys, certificate: Path):
    doc = document(certificate)
    raw = bytearray(base64.b64decode(doc["public_key"]))
    raw[5] ^= 0x40
    doc["public_key"] = base64.b64encode(bytes(raw)).decode()
    certificate.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = lab(capsys, "verify", str(certificate))
    assert code == 1
    assert "not valid: the embedded public key (fingerprint " in err and "the key or the issuer was changed." in err


def test_a_key_and_issuer_changed_together_still_fail_the_signature(certificate: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    doc = document(certificate)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    doc["public_key"] = base64.b64encode(other).decode()
    doc["payload"]["issuer"]["fingerprint"] = fingerprint(other)
    with pytest.raises(CertificateInvalid, match="the signature does not match the payload"):
        verify(json.dumps(doc).encode())


def test_key_mismatch_names_both_fingerprints(capsys, certificate: Path, keys: Path, tmp_path: Path):
    assert lab(capsys, "keygen", "--out", str(tmp_path / "other"))[0] == 0
    other_pub = tmp_path / "other" / "certificate-key.pub"
    mine = fingerprint(base64.b64decode(document(certificate)["public_key"]))
    code, out, err = lab(capsys, "verify", str(certificate), "--key", str(other_pub))
    theirs = fingerprint(base64.b64decode(lab_public_b64(capsys, tmp_path / "other")))
    assert code == 1
    assert err == f"lab: {certificate}: not valid: signed by another key: fingerprint {mine}, expected {theirs}.\n"
    # the base64 key as keygen prints it works as --key too
    code, out, err = lab(capsys, "verify", str(certificate), "--key", document(certificate)["public_key"])
    assert code == 0, err


def lab_public_b64(capsys, folder: Path) -> str:
    from lab.classroom.certificates import read_public_key

    return base64.b64encode(read_public_key(str(folder / "certificate-key.pub"))).decode()


def test_a_certificate_signed_by_another_key_is_valid_only_without_key(certificate: Path, tmp_path: Path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forger = Ed25519PrivateKey.generate()
    payload = document(certificate)["payload"]
    payload["issuer"]["fingerprint"] = fingerprint(base64.b64decode(sign({}, forger)["public_key"]))
    forged = json.dumps(sign(payload, forger)).encode()
    assert verify(forged).payload.learner == "ana"  # self-consistent, so --key is how a verifier pins the trainer
    with pytest.raises(CertificateInvalid, match="signed by another key"):
        verify(forged, base64.b64decode(document(certificate)["public_key"]))


def test_a_repeated_key_is_a_change(certificate: Path):
    text = certificate.read_text(encoding="utf-8").replace('"learner": "ana"', '"learner": "ana", "learner": "eve"', 1)
    with pytest.raises(CertificateInvalid, match="the key 'learner' appears twice"):
        verify(text.encode())


@pytest.mark.parametrize(("content", "reason"), [
    (b"not json at all", "it is not JSON (line 1: Expecting value)"),
    (b"[1, 2]", "it is not a JSON object with payload, signature and public_key."),
    (b'{"payload": {}}', "it has no signature, public_key; a certificate holds payload, signature and public_key."),
    (b'{"payload": [], "signature": "", "public_key": ""}', "payload must be an object and signature and public_key base64 text."),
    (b"\xff\xfe", "it is not UTF-8 text"),
    (b'{"payload": {"x": NaN}, "signature": "", "public_key": ""}', "it holds NaN"),
])
def test_a_file_that_is_not_a_certificate_is_exit_2_saying_what_is_wrong(capsys, tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "thing.json"
    path.write_bytes(content)
    code, out, err = lab(capsys, "verify", str(path))
    assert code == 2
    assert err.startswith(f"lab: {path} is not a Prompt Lab certificate: {reason}")


def test_verify_a_missing_file_or_a_folder_is_exit_2(capsys, tmp_path: Path):
    assert lab(capsys, "verify", str(tmp_path / "nope.json"))[2] == f"lab: {tmp_path / 'nope.json'} is not a Prompt Lab certificate: there is no such file.\n"
    code, _, err = lab(capsys, "verify", str(tmp_path))
    assert code == 2 and "it is a folder" in err


def test_a_signed_payload_of_another_format_is_not_a_certificate(keys: Path):
    key = load_private_key(keys / "certificate-key.pem")
    raw = base64.b64decode(sign({}, key)["public_key"])
    payload = {"format": "prompt-lab-certificate/9", "issuer": {"fingerprint": fingerprint(raw)}}
    with pytest.raises(NotACertificate, match="its format is 'prompt-lab-certificate/9'"):
        verify(json.dumps(sign(payload, key)).encode())
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode("utf-8")


def test_verify_key_that_is_a_private_key_or_garbage_is_refused(capsys, certificate: Path, keys: Path):
    code, out, err = lab(capsys, "verify", str(certificate), "--key", str(keys / "certificate-key.pem"))
    assert code == 2
    assert err == (f"lab: {keys / 'certificate-key.pem'} is a private key: give --key the public key (certificate-key.pub) "
                   "and keep the private one to yourself.\n")
    assert_no_private_key(keys / "certificate-key.pem", out + err)
    code, out, err = lab(capsys, "verify", str(certificate), "--key", "abc")
    assert code == 2 and "is neither a public key file nor a base64 public key" in err


# ---------------------------------------------------------------- self-attested


def practise(exercises: dict[str, int], passed: bool = True) -> None:
    with Store() as store:
        for exercise_id in exercises:
            a = store.begin_attempt(exercise_id=exercise_id, exercise_hash=f"mine-{exercise_id}", track=TRACK, model="m", api_base=None,
                                    prompt="p", hints_used=1)
            store.finish_attempt(a, status="graded", score=1.0 if passed else 0.4, passed=passed)


def test_a_learner_self_attests_and_verify_says_so(capsys, keys: Path, course: Path, lab_home: Path, monkeypatch):
    monkeypatch.setenv("LAB_LEARNER", "lea")
    practise(LEVELS)
    code, out, err = lab(capsys, "certify", "--self", "--track", TRACK, "--exercises", str(course))
    assert code == 0, err
    target = lab_home / "certificates" / "lea-basics.json"
    assert f"lea: self-attested, mastery 0.95 → {target}" in out
    payload = document(target)["payload"]
    assert (payload["kind"], payload["learner"], payload["cohort"]) == ("self-attested", "lea", None)
    assert payload["exercises"][0] == {"id": "t/one", "score": 1.0, "exercise_hash": "mine-t/one", "passed": True}
    code, out, err = lab(capsys, "verify", str(target))
    assert code == 0, err
    assert "kind: self-attested" in out and "self-attested: signed by the learner, not a trainer" in out
    assert_no_private_key(keys / "certificate-key.pem", out + err)


def test_self_attest_refused_and_to_a_chosen_file(capsys, keys: Path, course: Path, tmp_path: Path):
    practise(LEVELS, passed=False)
    code, out, err = lab(capsys, "certify", "--self", "--track", TRACK, "--learner", "lea", "--exercises", str(course))
    assert code == 1
    assert err == "lea: not certified, mastery 0.20 (started) is below 0.85; not passed: t/one, t/two, t/three.\n"
    practise(LEVELS)
    code, out, err = lab(capsys, "certify", "--self", "--track", TRACK, "--learner", "lea", "--exercises", str(course), "-o", str(tmp_path / "me.json"))
    assert code == 0 and verify((tmp_path / "me.json").read_bytes()).self_attested


def test_self_attest_bad_input(capsys, keys: Path, course: Path, monkeypatch):
    monkeypatch.delenv("LAB_LEARNER", raising=False)
    code, out, err = lab(capsys, "certify", "--self", "--track", TRACK, "--exercises", str(course))
    assert code == 2 and "pass --learner NAME, set LAB_LEARNER" in err
    code, out, err = lab(capsys, "certify", "--self", "--track", "nope", "--learner", "lea", "--exercises", str(course))
    assert code == 2 and err.startswith("lab: No track 'nope'. Tracks: ") and "basics" in err


def test_certificate_commands_never_import_litellm(lab_home: Path, tmp_path: Path, course: Path):
    from test_imports import run_in_fresh_python

    cohort = standard_cohort(tmp_path)
    done = run_in_fresh_python(f"""
        import contextlib, io, sys
        from lab.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["keygen"]) == 0
            assert main(["certify", {str(cohort)!r}, "--track", "basics", "--exercises", {str(course)!r}]) == 0
            assert main(["verify", {str(cohort / "certificates" / "ana-basics.json")!r}]) == 0
        assert "litellm" not in sys.modules and "openai" not in sys.modules and "textual" not in sys.modules
        print("clean")
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"
