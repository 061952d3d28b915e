"""The three-tier test PKI and its folder, the contract that vendors use::

    DIR/root/cert.pem  key.pem  crl.pem  crls/NNNNNN.pem
    DIR/ca/<sector>/cert.pem  key.pem  crl.pem  crls/NNNNNN.pem     sectors: ps cpam oc employer
    DIR/parties/<ID>/key.pem  cert.pem  chain.pem                   chain.pem: its intermediate
    DIR/pki.json                                                    registry, revocations

Every operation takes the (simulated) time at which it happens: nothing here reads a clock.
Private keys are written with mode 0600, every file atomically (temporary name, then rename),
and mutations hold a lock on the folder, so that another process reading the folder (the SFTP
server checking a login) sees either the old state or the new one.

CRLs: each CA publishes a CRL at creation, at each revocation and whenever
:meth:`Pki.publish_crls` is called; every CRL stays in ``crls/`` so that validation at any
past time finds the CRL that was current then. ``crl.pem`` is the latest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import PkiError

#: Extended key usage of the project for sealing exchange files. An OID under the UUID arc
#: 2.25 (ITU-T X.667), which needs no registration and cannot collide with anyone's.
SEAL_EKU = x509.ObjectIdentifier("2.25.216183593720532394937468355926498003911.1")
SECTORS = {
    "ps": "Professionnels de santé",
    "cpam": "Assurance maladie obligatoire",
    "oc": "Organismes complémentaires",
    "employer": "Employeurs",
}
ROOT_NAME = "AC Racine Santé (test)"
ORGANISATION = "noemie-sim (test)"
PARTY_DAYS = 730  # 24 months
CA_DAYS = 3650
ROOT_DAYS = 7300
CRL_DAYS = 90
KEY_BITS = 2048


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
    ]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def party_id(cert: x509.Certificate) -> str:
    """The identifier (n° AM, caisse, OC number, SIRET) a party certificate is issued to."""
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _new_key(_: int = 0) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_keys(count: int, workers: int | None = None) -> list[rsa.RSAPrivateKey]:
    """``count`` RSA-2048 keys, generated on every core (key generation is the cost of a PKI:
    about 20 keys/s/core)."""
    workers = workers or os.cpu_count() or 1
    if count < 8 or workers == 1:
        pems = [_new_key() for _ in range(count)]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pems = list(pool.map(_new_key, range(count), chunksize=max(1, count // (workers * 4))))
    return [_load_key(pem) for pem in pems]


class KeyPool:
    """A folder of RSA keys reused across PKIs, because generating them is the whole cost of a
    PKI (about 20 keys/s/core). :meth:`take` returns the first ``count`` keys of the folder,
    generating and saving (0600) the ones missing. Test keys only: two PKIs made from one pool
    share keys.

    Processes may share a pool (two commands on one user's cache, a test suite's workers):
    :meth:`take` holds the folder's lock while it lists and fills it, so each key is made
    once, and a process that waited takes what the other made."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def take(self, count: int) -> list[rsa.RSAPrivateKey]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                paths = sorted(self.folder.glob("key-*.pem"))
                keys = [_load_key(path.read_bytes()) for path in paths[:count]]
                if len(keys) < count:
                    fresh = generate_keys(count - len(keys))
                    for n, key in enumerate(fresh, start=len(paths)):
                        write_file(self.folder / f"key-{n:06d}.pem", _key_pem(key), private=True)
                    keys += fresh
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return keys


def _keys(count: int, pool: KeyPool | None) -> list[rsa.RSAPrivateKey]:
    return pool.take(count) if pool is not None else generate_keys(count)


def _load_key(pem: bytes) -> rsa.RSAPrivateKey:
    """A key we generated, from a worker process or from our own PKI folder. cryptography's
    RSA consistency check on load costs as much as generating the key (47 ms): it guards keys
    from untrusted sources, which these are not; a corrupt key would only make signatures that
    every receiver refuses."""
    key = serialization.load_pem_private_key(
        pem, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError("only RSA keys are used in this PKI")
    return key


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` atomically; a private file is created 0600 before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class Identity:
    """A party's key, certificate and intermediate, as loaded from the folder."""

    id: str
    role: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@dataclass
class _Ca:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    folder: Path


class Pki:
    """An existing PKI folder. Create one with :meth:`create`."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._read: tuple[tuple[int, int, int], dict] | None = None  # type: ignore[type-arg]
        #: when set, a span (from, until) every CRL published by this object covers too, on
        #: top of ``crl_days`` from its publication time: where real systems check at the
        #: real time a PKI dated by a simulated clock (see :meth:`publish_crls`)
        self.crl_window: Callable[[], tuple[datetime, datetime]] | None = None
        #: told after every publication of CRLs by this object (a kit keeps a copy of them)
        self.on_publish: list[Callable[[], None]] = []
        if not (self.folder / "pki.json").is_file():
            raise PkiError(f"{self.folder} is not a PKI folder (no pki.json); create it first")

    # -- creation -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: Path | str,
        at: datetime,
        *,
        crl_days: int = CRL_DAYS,
        pool: KeyPool | None = None,
        crl_window: Callable[[], tuple[datetime, datetime]] | None = None,
    ) -> Pki:
        """A new PKI at ``at``: root, one intermediate per sector, their first CRLs (covering
        ``crl_window`` too: :attr:`crl_window`). Keys come from ``pool`` when given (its first
        keys go to the CAs)."""
        at = utc(at)
        folder = Path(folder)
        if (folder / "pki.json").exists():
            raise PkiError(f"{folder} already holds a PKI")
        folder.mkdir(parents=True, exist_ok=True)
        root_key, *ca_keys = _keys(1 + len(SECTORS), pool)
        root = _ca_cert(_name(ROOT_NAME), root_key, None, at, ROOT_DAYS, path_length=1)
        write_file(folder / "root" / "key.pem", _key_pem(root_key), private=True)
        write_file(folder / "root" / "cert.pem", _cert_pem(root))
        issuer = _Ca(root, root_key, folder / "root")
        for (sector, label), key in zip(SECTORS.items(), ca_keys, strict=True):
            cert = _ca_cert(_name(f"AC {label} (test)"), key, issuer, at, CA_DAYS, path_length=0)
            write_file(folder / "ca" / sector / "key.pem", _key_pem(key), private=True)
            write_file(folder / "ca" / sector / "cert.pem", _cert_pem(cert))
        state = {"version": 1, "crl_days": crl_days, "parties": {}, "revoked": {}, "crl_number": {}}
        write_file(folder / "pki.json", json.dumps(state, indent=1).encode())
        pki = cls(folder)
        pki.crl_window = crl_window
        pki.publish_crls(at)
        return pki

    # -- parties ------------------------------------------------------------------------------

    def issue(
        self, role: str, ident: str, at: datetime, *, key: rsa.RSAPrivateKey | None = None
    ) -> x509.Certificate:
        """Issue (or replace) the certificate of party ``ident`` in sector ``role``."""
        return self.issue_many([(role, ident)], at, keys=[key] if key else None)[0]

    def issue_many(
        self,
        parties: Sequence[tuple[str, str]],
        at: datetime,
        *,
        keys: Sequence[rsa.RSAPrivateKey] | None = None,
        days: int = PARTY_DAYS,
        pool: KeyPool | None = None,
    ) -> list[x509.Certificate]:
        """Issue a certificate to each (role, id); keys are given, or taken from ``pool`` after
        the CAs' keys, or generated on every core. Validity starts at ``at`` and lasts ``days``
        (24 months by default)."""
        at = utc(at)
        for role, ident in parties:
            if role not in SECTORS:
                raise PkiError(f"unknown role {role!r}: one of {', '.join(SECTORS)}")
            if not ident or not ident.isalnum():
                raise PkiError(f"party id must be letters and digits, not {ident!r}")
        if keys is None and pool is not None:
            keys = pool.take(1 + len(SECTORS) + len(parties))[1 + len(SECTORS) :]
        keys = list(keys) if keys else generate_keys(len(parties))
        certs = []
        with self._locked() as state:
            cas = {role: self._ca(role) for role in {r for r, _ in parties}}
            for (role, ident), key in zip(parties, keys, strict=True):
                ca = cas[role]
                cert = _party_cert(ident, role, key, ca, at, days)
                home = self.folder / "parties" / ident
                write_file(home / "key.pem", _key_pem(key), private=True)
                write_file(home / "cert.pem", _cert_pem(cert))
                write_file(home / "chain.pem", _cert_pem(ca.cert))
                state["parties"][ident] = {"role": role, "serial": format(cert.serial_number, "x")}
                certs.append(cert)
        return certs

    def renew(self, ident: str, at: datetime) -> x509.Certificate:
        """A new key and a new 24-month certificate for ``ident`` from ``at``. The previous
        certificate is kept in ``parties/<ID>/previous/`` and stays valid until it expires, so
        files sealed before the renewal can still be opened."""
        role = self.role_of(ident)
        home = self.folder / "parties" / ident
        previous = home / "previous"
        old = self.certificate(ident)
        write_file(previous / f"{old.serial_number:x}.pem", _cert_pem(old))
        return self.issue(role, ident, at)

    def revoke(self, ident: str, at: datetime, reason: x509.ReasonFlags | None = None) -> None:
        """Revoke the current certificate of ``ident`` from ``at`` and publish its CA's CRL."""
        cert = self.certificate(ident)
        self._revoke(self.role_of(ident), cert.serial_number, at, reason)

    def revoke_ca(self, sector: str, at: datetime) -> None:
        """Revoke a sector's intermediate in the root CRL (an emergency of the whole sector)."""
        self._revoke(
            "root", self._ca(sector).cert.serial_number, at, x509.ReasonFlags.ca_compromise
        )

    def _revoke(
        self, issuer: str, serial: int, at: datetime, reason: x509.ReasonFlags | None
    ) -> None:
        at = utc(at)
        with self._locked() as state:
            entries = state["revoked"].setdefault(issuer, [])
            entries.append([format(serial, "x"), at.isoformat(), (reason or _KEY_COMPROMISE).value])
        self.publish_crls(at, only=issuer)

    def publish_crls(self, at: datetime, *, only: str | None = None) -> None:
        """Issue a fresh CRL for the root and every sector CA, or only for ``only`` ("root"
        or a sector): it lists the revocations dated up to ``at`` and is valid from ``at``
        for ``crl_days``, widened to cover :attr:`crl_window` when one is set (lastUpdate the
        earlier of ``at`` and the window's start, nextUpdate the later of the two ends). A
        validation at a time picks the latest CRL valid then, and a revocation counts from
        its own date: widening changes no decision at a simulated time, and lets a real
        system checking at the real time find a CRL in force, revocations included."""
        at = utc(at)
        window = self.crl_window() if self.crl_window is not None else None
        with self._locked() as state:
            issuers = ["root", *SECTORS] if only is None else [only]
            for issuer in issuers:
                ca = self._ca(issuer)
                number = state["crl_number"].get(issuer, 0) + 1
                state["crl_number"][issuer] = number
                crl = _crl(ca, state["revoked"].get(issuer, []), number, at, state["crl_days"],
                           window)  # fmt: skip
                pem = crl.public_bytes(serialization.Encoding.PEM)
                write_file(ca.folder / "crls" / f"{number:06d}.pem", pem)
                write_file(ca.folder / "crl.pem", pem)
        for listener in self.on_publish:
            listener()

    def current_crls_pem(self) -> bytes:
        """The CRL in force of the root and of every sector CA (the last published), one PEM
        after the other: what a partner checking revocation with openssl needs."""
        folders = [self.folder / "root", *(self.folder / "ca" / s for s in SECTORS)]
        return b"".join((folder / "crl.pem").read_bytes() for folder in folders)

    def current_crls(self) -> list[x509.CertificateRevocationList]:
        """The last CRL published by the root and by every sector CA."""
        folders = [self.folder / "root", *(self.folder / "ca" / s for s in SECTORS)]
        return [x509.load_pem_x509_crl((folder / "crl.pem").read_bytes()) for folder in folders]

    def intermediates_pem(self) -> bytes:
        """The certificates of the sector CAs, one PEM after the other."""
        return b"".join((self.folder / "ca" / s / "cert.pem").read_bytes() for s in SECTORS)

    # -- reading ------------------------------------------------------------------------------

    def parties(self) -> dict[str, str]:
        """id -> role of every party issued."""
        return {k: v["role"] for k, v in self._state()["parties"].items()}

    def role_of(self, ident: str) -> str:
        try:
            role: str = self._state()["parties"][ident]["role"]
        except KeyError:
            raise PkiError(f"no party {ident!r} in {self.folder}") from None
        return role

    def certificate(self, ident: str) -> x509.Certificate:
        self.role_of(ident)
        return x509.load_pem_x509_certificate(
            (self.folder / "parties" / ident / "cert.pem").read_bytes()
        )

    def identity(self, ident: str) -> Identity:
        """The party's key, certificate and chain, for sealing and opening files."""
        home = self.folder / "parties" / ident
        role = self.role_of(ident)
        key = _load_key((home / "key.pem").read_bytes())
        chain = tuple(x509.load_pem_x509_certificates((home / "chain.pem").read_bytes()))
        return Identity(ident, role, key, self.certificate(ident), chain)

    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.folder / "root" / "cert.pem").read_bytes())

    def intermediates(self) -> list[x509.Certificate]:
        return [self._ca(sector).cert for sector in SECTORS]

    def crls(self) -> list[x509.CertificateRevocationList]:
        """Every CRL ever published by the root and the sector CAs."""
        folders = [self.folder / "root", *(self.folder / "ca" / s for s in SECTORS)]
        return [
            x509.load_pem_x509_crl(path.read_bytes())
            for folder in folders
            for path in sorted((folder / "crls").glob("*.pem"))
        ]

    def revoked(self) -> dict[str, list[tuple[str, datetime, str]]]:
        """issuer -> (serial hex, revocation time, reason) of every revocation."""
        return {
            issuer: [(s, datetime.fromisoformat(t), r) for s, t, r in entries]
            for issuer, entries in self._state()["revoked"].items()
        }

    # -- internals ----------------------------------------------------------------------------

    def _ca(self, issuer: str) -> _Ca:
        if issuer != "root" and issuer not in SECTORS:
            raise PkiError(f"unknown sector {issuer!r}: one of {', '.join(SECTORS)}")
        folder = self.folder / "root" if issuer == "root" else self.folder / "ca" / issuer
        cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
        return _Ca(cert, _load_key((folder / "key.pem").read_bytes()), folder)

    def _state(self) -> dict:  # type: ignore[type-arg]
        """The registry, for reading only: parsed again only when the file was replaced
        (every write replaces it), since a national PKI's registry takes milliseconds to
        parse and is read at every login and every file opened."""
        path = self.folder / "pki.json"
        seen = path.stat()
        stamp = (seen.st_ino, seen.st_mtime_ns, seen.st_size)
        if self._read is None or self._read[0] != stamp:
            self._read = (stamp, json.loads(path.read_text()))
        return self._read[1]

    def _fresh_state(self) -> dict:  # type: ignore[type-arg]
        state: dict = json.loads((self.folder / "pki.json").read_text())  # type: ignore[type-arg]
        return state

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:  # type: ignore[type-arg]
        """The registry, locked against other writers, written back atomically on success."""
        with open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._fresh_state()
                yield state
                write_file(self.folder / "pki.json", json.dumps(state, indent=1).encode())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


_KEY_COMPROMISE = x509.ReasonFlags.key_compromise


def _ca_cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: _Ca | None,
    at: datetime,
    days: int,
    *,
    path_length: int,
) -> x509.Certificate:
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - timedelta(days=1))
        .not_valid_after(at + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    signer = issuer.key if issuer else key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
    )
    return builder.sign(signer, hashes.SHA256())


def _party_cert(
    ident: str, role: str, key: rsa.RSAPrivateKey, ca: _Ca, at: datetime, days: int
) -> x509.Certificate:
    subject, until = _name(ident, SECTORS[role]), at + timedelta(days=days)
    usages = [SEAL_EKU, ExtendedKeyUsageOID.CLIENT_AUTH]
    return end_entity_certificate(
        subject, key.public_key(), ca.cert, ca.key, at, until, usages, key_encipherment=True
    )


def end_entity_certificate(
    subject: x509.Name,
    public: CertificatePublicKeyTypes,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    not_before: datetime,
    not_after: datetime,
    usages: list[x509.ObjectIdentifier],
    *,
    key_encipherment: bool,
) -> x509.Certificate:
    """A certificate that is not a CA: digitalSignature and contentCommitment (plus
    keyEncipherment when asked), the extended key ``usages`` given, signed by ``issuer``."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=key_encipherment,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _crl(
    ca: _Ca,
    entries: list[list[str]],
    number: int,
    at: datetime,
    days: int,
    window: tuple[datetime, datetime] | None = None,
) -> x509.CertificateRevocationList:
    first, last = at, at + timedelta(days=days)
    if window is not None:
        first, last = min(first, utc(window[0])), max(last, utc(window[1]))
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(first)
        .next_update(last)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    for serial, when, reason in entries:
        moment = datetime.fromisoformat(when)
        if moment > at:
            continue  # a revocation dated after this CRL belongs to later CRLs
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial, 16))
            .revocation_date(moment)
            .add_extension(x509.CRLReason(x509.ReasonFlags(reason)), critical=False)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())
