"""``noemie-sim pki ...``, ``seal`` and ``open``: the test PKI and sealed files."""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from datetime import datetime

from cryptography import x509

from noemie_sim.pki.authority import SECTORS, KeyPool, Pki
from noemie_sim.pki.cms import open_sealed, seal
from noemie_sim.pki.errors import PkiError, SealError
from noemie_sim.pki.validation import Purpose, TrustStore, validate
from noemie_sim.sim.clock import stopwatch
from noemie_sim.sim.domain import identifiers as ids
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.errors import FormatError

from .common import (
    H_,
    RUN_TIME,
    UsageError,
    add_at,
    add_max_bytes,
    moment,
    moment_for_pki,
    read_file,
    write_output,
)

#: Real caisse numbers first (norms.md §7.6), then any others.
CAISSES = (751, 131, 691, 331, 592, 311, 441, 671, 61, 11, 341, 381, 452, 541, 641, 751)
CHECKS: dict[str, Callable[[str], list[str]]] = {
    "ps": ids.check_ps_number,
    "cpam": ids.check_organisme,
    "oc": ids.check_oc_number,
    "employer": ids.check_siret,
}


def generate_ids(role: str, count: int, rng: random.Random) -> list[str]:
    """``count`` distinct valid identifiers for parties of ``role``."""
    found: list[str] = []
    seen: set[str] = set()
    while len(found) < count:
        n = len(found)
        if role == "ps":
            category = (1, 1, 1, 6, 7, 4, 5)[n % 7]
            ident = ids.ps_number(
                rng.choice(("75", "13", "69", "33", "59")), category, rng.randrange(100_000)
            )
        elif role == "cpam":
            caisse = CAISSES[n] if n < len(CAISSES) else rng.randrange(11, 990)
            ident = ids.organisme(1, caisse, 0)
        elif role == "oc":
            ident = ids.oc_number(f"{rng.randrange(10**7):07d}")
        else:
            ident = ids.siret(ids.siren(f"{rng.randrange(10**8):08d}"), rng.randrange(1, 100))
        if ident not in seen:
            seen.add(ident)
            found.append(ident)
    return found


def _pki(folder: str) -> Pki:
    try:
        return Pki(folder)
    except PkiError as exc:
        raise UsageError(str(exc)) from None


def cmd_init(args: argparse.Namespace) -> int:
    at = moment(args)
    rng = random.Random(args.seed)
    wanted = [("ps", args.ps), ("cpam", args.cpam), ("oc", args.oc), ("employer", args.employer)]
    parties = [(role, ident) for role, count in wanted for ident in generate_ids(role, count, rng)]
    timer = stopwatch()
    try:
        pool = KeyPool(args.key_pool) if args.key_pool else None
        pki = Pki.create(args.dir, at, pool=pool)
        pki.issue_many(parties, at, pool=pool)
    except (PkiError, OSError) as exc:
        raise UsageError(str(exc)) from None
    elapsed = timer()
    print(
        f"PKI created in {args.dir} at {at.isoformat()} in {elapsed:.1f} s: root, "
        f"{len(SECTORS)} sector CAs, {len(parties)} parties"
    )
    for role, _count in wanted:
        members = [i for r, i in parties if r == role]
        if members:
            shown = ", ".join(members[:5]) + (" ..." if len(members) > 5 else "")
            print(f"  {role:<8} {len(members):>5}  {shown}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    problems = CHECKS[args.role](args.id)
    if problems:
        raise UsageError(f"{args.id} is not a valid {args.role} identifier: {'; '.join(problems)}")
    try:
        cert = _pki(args.dir).issue(args.role, args.id, moment(args))
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"issued {args.id} ({args.role}), serial {cert.serial_number:x}, "
        f"valid {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    )
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    try:
        cert = _pki(args.dir).renew(args.id, moment(args))
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"renewed {args.id}: new key, serial {cert.serial_number:x}, valid to "
        f"{cert.not_valid_after_utc:%Y-%m-%d}"
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    at = moment(args)
    try:
        _pki(args.dir).revoke(args.id, at, x509.ReasonFlags(args.reason))
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    print(f"revoked {args.id} from {at.isoformat()}; CRL published")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    at = moment(args)
    _pki(args.dir).publish_crls(at)
    print(f"CRLs of the root and the {len(SECTORS)} sector CAs published at {at.isoformat()}")
    return 0


def _status(cert: x509.Certificate, trust: TrustStore, at: datetime) -> str:
    try:
        validate(cert, trust, at, Purpose.SIGN)
    except SealError as exc:
        return f"REFUSED ({exc.code}: {exc.detail})"
    return "valid"


def cmd_show(args: argparse.Namespace) -> int:
    pki = _pki(args.dir)
    at = moment(args)
    trust = TrustStore.load(pki)
    if args.id is None:
        print(f"root      {pki.root().subject.rfc4514_string()}")
        for cert in pki.intermediates():
            print(f"CA        {cert.subject.rfc4514_string()}")
        parties = pki.parties()
        print(f"{len(parties)} parties; status at {at.isoformat()}:")
        for ident, role in sorted(parties.items(), key=lambda p: (p[1], p[0])):
            print(f"  {role:<8} {ident:<15} {_status(pki.certificate(ident), trust, at)}")
        return 0
    try:
        cert = pki.certificate(args.id)
        role = pki.role_of(args.id)
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    print(f"party     {args.id} ({role})")
    print(f"subject   {cert.subject.rfc4514_string()}")
    print(f"issuer    {cert.issuer.rfc4514_string()}")
    print(f"serial    {cert.serial_number:x}")
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    print(f"validity  {start.isoformat()} to {end.isoformat()}")
    print(f"files     {pki.folder / 'parties' / args.id}/{{key,cert,chain}}.pem")
    print(f"at {at.isoformat()}: {_status(cert, trust, at)}")
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    pki = _pki(args.pki)
    content = read_file(args.file, args.max_bytes)
    if not args.raw:
        try:
            declared = kinds.declared_parties(content)
        except FormatError as exc:
            print(
                f"{args.file}: not a file of the network ({exc.anomaly.describe()}); "
                "use --raw to seal other content"
            )
            return 1
        if declared != (args.sender, args.recipient):
            print(
                f"{args.file} declares sender {declared[0]} and recipient {declared[1]}, "
                f"not {args.sender} -> {args.recipient}: refused"
            )
            return 1
    at = moment_for_pki(args, args.pki)
    try:
        trust = TrustStore.load(pki)
        sender = pki.identity(args.sender)
        recipient = pki.certificate(args.recipient)
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    try:
        # fail closed: a revoked or expired party cannot seal, even with its key at hand
        validate(sender.cert, trust, at, Purpose.SIGN, untrusted=sender.chain)
    except SealError as exc:
        print(f"cannot seal as {args.sender}: its certificate is refused at {at.isoformat()}: "
              f"{exc.code}: {exc.detail}")  # fmt: skip
        return 1
    try:
        sealed = seal(content, sender, recipient, trust, at)
    except SealError as exc:
        print(f"cannot seal for {args.recipient}: {exc.code}: {exc.detail}")
        return 1
    write_output(args.out, sealed)
    print(f"sealed {args.file} from {args.sender} to {args.recipient} -> {args.out}")
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    pki = _pki(args.pki)
    data = read_file(args.file, args.max_bytes)
    try:
        me = pki.identity(args.recipient)
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    try:
        opened = open_sealed(
            data,
            me,
            TrustStore.load(pki),
            moment_for_pki(args, args.pki),
            None if args.raw else kinds.declared_parties,
        )
    except SealError as exc:
        print(f"{args.file}: refused: {exc.code}: {exc.detail}")
        return 1
    write_output(args.out, opened.content)
    legacy = " (legacy envelope: AES-CBC / PKCS#1 v1.5)" if opened.legacy else ""
    print(f"sender {opened.sender}{legacy}")
    print(f"opened {args.file} -> {args.out} (sealed SHA-256 {opened.sealed_sha256})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pki = sub.add_parser(
        "pki",
        help=H_("create and manage the three-tier test PKI"),
        description="The test PKI: root 'AC Racine Santé (test)', one intermediate per sector "
        f"({', '.join(SECTORS)}), one certificate per party. Its folder is the contract: "
        "DIR/root/cert.pem, DIR/ca/<sector>/cert.pem, DIR/parties/<ID>/{key,cert,chain}.pem, "
        "with crl.pem next to each CA certificate.",
        epilog="example: noemie-sim pki init ./pki --ps 20 --cpam 2 --oc 3 --employer 2",
    )
    psub = pki.add_subparsers(dest="pki_command", metavar="PKI_COMMAND", required=True)

    p = psub.add_parser(
        "init",
        help="create a PKI with generated parties",
        description="Create the root, the sector CAs, their CRLs, and parties "
        "with valid generated identifiers (n° AM, caisse, OC number, SIRET).",
        epilog="example: noemie-sim pki init ./pki --ps 20 --cpam 2 --oc 3",
    )
    p.add_argument("dir", metavar="DIR")
    for role, default in (("ps", 2), ("cpam", 1), ("oc", 1), ("employer", 1)):
        p.add_argument(
            f"--{role}",
            type=int,
            default=default,
            metavar="N",
            help=f"number of {SECTORS[role].lower()} parties (default {default})",
        )
    p.add_argument("--seed", type=int, default=1, help="seed of the generated identifiers")
    p.add_argument(
        "--key-pool",
        metavar="POOL",
        help="reuse RSA keys from this folder, adding the missing ones to it "
        "(key generation is the cost of a large PKI: ~20 keys/s/core)",
    )
    add_at(p, "creation time")
    p.set_defaults(handler=cmd_init)

    p = psub.add_parser(
        "issue",
        help="issue a certificate to a party",
        description="Issue (or replace) the certificate of party ID in sector "
        "ROLE; ID must be a valid identifier for the role.",
        epilog="example: noemie-sim pki issue ./pki ps 991086265",
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument("role", choices=list(SECTORS), metavar="ROLE", help=", ".join(SECTORS))
    p.add_argument("id", metavar="ID")
    add_at(p, "start of validity")
    p.set_defaults(handler=cmd_issue)

    p = psub.add_parser(
        "renew",
        help="renew a party's certificate with a new key",
        description="A new key and a new 24-month certificate; the previous one "
        "stays valid until it expires.",
        epilog="example: noemie-sim pki renew ./pki 991086265 --at 2027-12-01",
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument("id", metavar="ID")
    add_at(p, "renewal time")
    p.set_defaults(handler=cmd_renew)

    p = psub.add_parser(
        "revoke",
        help="revoke a party's certificate",
        description="Revoke the current certificate of ID from TIME and publish "
        "its CA's CRL; the SFTP servers refuse its next login.",
        epilog="example: noemie-sim pki revoke ./pki 991086265 --at 2026-03-04T10:00",
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument("id", metavar="ID")
    p.add_argument(
        "--reason",
        default="keyCompromise",
        choices=[r.value for r in x509.ReasonFlags if r.value != "unspecified"],
    )
    add_at(p, "revocation time")
    p.set_defaults(handler=cmd_revoke)

    p = psub.add_parser(
        "crl",
        help="publish fresh CRLs",
        description="Publish a new CRL for the root and every sector CA, valid "
        "90 days from TIME (validation fails closed once a CRL is stale).",
        epilog="example: noemie-sim pki crl ./pki --at 2026-06-01",
    )
    p.add_argument("dir", metavar="DIR")
    add_at(p, "publication time")
    p.set_defaults(handler=cmd_crl)

    p = psub.add_parser(
        "show",
        help="list parties and their status, or show one",
        description="Without ID: the CAs and every party with its status at "
        "TIME. With ID: that party's certificate and status.",
        epilog="example: noemie-sim pki show ./pki 991086265",
    )
    p.add_argument("dir", metavar="DIR")
    p.add_argument("id", metavar="ID", nargs="?")
    add_at(p, "time of the status")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser(
        "seal",
        help=H_("sign a file and encrypt it for its recipient"),
        description="Sign FILE as --from (CMS SignedData, RSA-PSS) and encrypt it for --to (CMS "
        "AuthEnvelopedData, AES-256-GCM, RSA-OAEP). The file's header must name the same "
        "sender and recipient, unless --raw. Exit 1 when the recipient's certificate is not "
        "valid.",
        epilog="example: noemie-sim seal lot.b2 --pki ./pki --from 991086265 --to 017510000 "
        "--out lot.b2.p7m",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--pki", required=True, metavar="DIR")
    p.add_argument("--from", dest="sender", required=True, metavar="ID")
    p.add_argument("--to", dest="recipient", required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="OUT")
    p.add_argument("--raw", action="store_true", help="seal content that is not a network file")
    add_at(p, "sealing time", RUN_TIME)
    add_max_bytes(p)
    p.set_defaults(handler=cmd_seal)

    p = sub.add_parser(
        "open",
        help=H_("decrypt a sealed file and verify who sealed it"),
        description="Decrypt FILE as --as, verify the signature, validate the signer's "
        "certificate at TIME against the PKI folder (chain, CRLs), check the signer is the "
        "sender the file declares and that it is addressed to --as. Prints the sender; exit 1 "
        "with the reason when refused. Also opens legacy envelopes (AES-CBC, PKCS#1 v1.5).",
        epilog="example: noemie-sim open lot.b2.p7m --pki ./pki --as 017510000 --out lot.b2",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--pki", required=True, metavar="DIR")
    p.add_argument("--as", dest="recipient", required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="OUT")
    p.add_argument(
        "--raw", action="store_true", help="do not bind sender and recipient to the file's header"
    )
    add_at(p, "validation time", RUN_TIME)
    add_max_bytes(p)
    p.set_defaults(handler=cmd_open)
