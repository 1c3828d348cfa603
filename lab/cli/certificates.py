"""Certificates: `lab keygen` (a signing key pair), `lab certify` (sign who mastered a track) and `lab verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_BAD, EXIT_NOT_PASSED, EXIT_OK, print_json

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("keygen", parents=[common], help="make your Ed25519 key pair for signing certificates; prints the public key")
    p.add_argument("--out", metavar="DIR", help="the folder for the pair (default: keys/ in the user data folder)")
    p.set_defaults(handler=cmd_keygen)

    p = sub.add_parser("certify", parents=[common], help="sign a certificate for each learner of a cohort who mastered a track")
    p.add_argument("cohort", nargs="?", metavar="DIR", help="the cohort folder `lab grade --out DIR` wrote (not with --self)")
    p.add_argument("--track", required=True, metavar="T", help="the track to certify")
    p.add_argument("--key", metavar="PRIVATE", help="the private key (default: the one `lab keygen` wrote)")
    p.add_argument("--learner", metavar="NAME", help="only this learner (with --self: your name; default LAB_LEARNER, then the config file)")
    p.add_argument("--self", dest="self_attest", action="store_true", help="sign your own progress with your own key (self-attested)")
    p.add_argument("-o", "--output", metavar="FILE", help="with --self: where to write (default: certificates/ in the user data folder)")
    p.set_defaults(handler=cmd_certify)

    p = sub.add_parser("verify", parents=[common], help="check a certificate offline: who, which track, when, which exercises")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--key", metavar="PUBLIC_KEY", help="the issuer's public key (.pub file or base64): the certificate must be signed by it")
    p.add_argument("--json", action="store_true", help="print the verdict and payload as JSON")
    p.set_defaults(handler=cmd_verify)


def cmd_keygen(args: argparse.Namespace) -> int:
    from lab.classroom.certificates import keygen

    pair = keygen(Path(args.out) if args.out else None)
    # the private key's path only: its bytes never reach a terminal, a log or a screen share
    print(f"Public key:  {pair.public_key}")
    print(f"Fingerprint: {pair.fingerprint}")
    print(f"Private key: {pair.private_path} (readable by you only; keep it, never share it)")
    print(f"Public key file: {pair.public_path} (give it to whoever verifies your certificates: `lab verify FILE --key {pair.public_path.name}`)")
    return EXIT_OK


def cmd_certify(args: argparse.Namespace) -> int:
    from lab.classroom.certificates import load_private_key
    from lab.errors import LabError

    if args.self_attest and args.cohort:
        raise LabError("--self signs your own progress, not a cohort's: drop DIR, or drop --self to certify the cohort.")
    if not args.self_attest and not args.cohort:
        raise LabError("Give the cohort folder (`lab certify DIR --track T`), or --self to sign your own progress.")
    if args.output and not args.self_attest:
        raise LabError("-o is for --self; a cohort's certificates go to DIR/certificates/.")
    key = load_private_key(Path(args.key) if args.key else None)
    return certify_self(args, key) if args.self_attest else certify_cohort(args, key)


def certify_cohort(args: argparse.Namespace, key: Any) -> int:
    from lab.classroom.certificates import certify
    from lab.format.catalog import load_index

    levels = {e.id: e.level for e in load_index(args.exercises).entries}
    outcome = certify(Path(args.cohort), args.track, key, levels=levels, learner=args.learner)
    for warning in outcome.warnings:
        print(f"lab: warning: {warning}", file=sys.stderr)
    for w in outcome.written:
        left = f" (not passed: {', '.join(w.not_passed)})" if w.not_passed else ""
        print(f"{w.learner}: certified, mastery {w.mastery:.2f}{left} → {w.path}")
    for r in outcome.refused:
        print(r.reason, file=sys.stderr)
    print(f"{len(outcome.written)} certificate(s) written, {len(outcome.refused)} learner(s) refused.")
    return EXIT_OK if outcome.written else EXIT_NOT_PASSED


def certify_self(args: argparse.Namespace, key: Any) -> int:
    from lab.classroom.certificates import Written, self_attest
    from lab.cli.common import open_store
    from lab.cli.trainer import learner_name
    from lab.format.catalog import load_index
    from lab.practice.mastery import infos_from_catalog

    learner = learner_name(args.learner)
    catalogue = infos_from_catalog(load_index(args.exercises).exercises)
    with open_store() as store:
        decided = self_attest(store, learner, args.track, catalogue, key, target=Path(args.output) if args.output else None)
    if isinstance(decided, Written):
        print(f"{learner}: self-attested, mastery {decided.mastery:.2f} → {decided.path}")
        print("self-attested: signed by you with your own key, not by a trainer.")
        return EXIT_OK
    print(decided.reason, file=sys.stderr)
    return EXIT_NOT_PASSED


def cmd_verify(args: argparse.Namespace) -> int:
    from lab.classroom.certificates import CertificateInvalid, NotACertificate, read_public_key, verify_file

    expected = read_public_key(args.key) if args.key else None
    try:
        verified = verify_file(Path(args.file), expected)
    except CertificateInvalid as exc:
        return _verdict(args, False, f"{args.file}: not valid: {exc}", EXIT_NOT_PASSED)
    except NotACertificate as exc:
        return _verdict(args, False, f"{args.file} is not a Prompt Lab certificate: {exc}", EXIT_BAD)
    from lab.errors import shown

    p = verified.payload
    if args.json:
        print_json({"valid": True, "reason": None, "fingerprint": verified.fingerprint, "payload": p.model_dump(mode="json")})
        return EXIT_OK
    passed = sum(bool(getattr(e, "passed", False)) for e in p.exercises)
    print(f"Valid certificate: {shown(p.learner)} · track {shown(p.track)} · {shown(p.date)}")  # a file from anyone: nothing raw to the terminal
    print(f"kind: {shown(str(p.kind))} · signed by fingerprint {verified.fingerprint}" + (f" · cohort {shown(p.cohort)}" if p.cohort else "")
          + f" · mastery {p.mastery:.2f}")
    if verified.self_attested:
        print("self-attested: signed by the learner, not a trainer")
    print(f"exercises: {passed} of {len(p.exercises)} passed")
    for e in p.exercises:
        mark = "✓" if getattr(e, "passed", False) else "✗"
        print(f"  {mark} {shown(e.id)}  " + ("not tried" if e.score is None else f"{e.score:.2f}"))
    return EXIT_OK


def _verdict(args: argparse.Namespace, valid: bool, reason: str, code: int) -> int:
    if args.json:
        print_json({"valid": valid, "reason": reason, "fingerprint": None, "payload": None})
    print(f"lab: {reason}", file=sys.stderr)
    return code
