"""The harness's own signature on what it attests: the manifest that closes a run's journal and
the checkpoints along the way.

The trust root of a run folder lives outside it. The harness signs with an Ed25519 key kept in
the user's data directory (:func:`harness_home`: ``$NOEMIE_SIM_HARNESS_DIR``, else
``$XDG_DATA_HOME/noemie-sim/harness``, else ``~/.local/share/noemie-sim/harness``; the key
0600, made once, at first use) or given by the user (``--harness-key``, or
``$NOEMIE_SIM_HARNESS_KEY``), beside a self-signed certificate of that key with the project's
journal-seal extended key usage. Nothing in the run folder can sign for it: not the test PKI
(whose root key the folder carries, for the vendors' kits), not a certificate the manifest
carries. ``noemie-sim verify`` trusts the certificate given with ``--root`` (exported with
``noemie-sim harness --export``), else this machine's harness, and says which; only when it
has neither does it fall back on the certificate the folder carries, and warns that anyone
could have made that one.

What this proves, and against whom: a journal, a manifest or an archived file changed after
the run no longer matches what was signed, whoever changed it, unless they hold the harness
key (an account that can read the user's data directory can: it is the user's own key).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from .authority import ORGANISATION, write_file
from .errors import PkiError

#: Extended key usage of the harness's journal seal (same UUID arc as the sealing EKU).
JOURNAL_SEAL_EKU = x509.ObjectIdentifier("2.25.216183593720532394937468355926498003911.2")
HARNESS_NAME = "noemie-sim harness (journal seal)"
ALGORITHM = "Ed25519"
#: The harness certificate's validity: every simulated time a run may be dated at.
VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Harness:
    """The harness's signing identity: its key and the self-signed certificate of that key;
    ``where`` says where it was taken from."""

    key: ed25519.Ed25519PrivateKey
    cert: x509.Certificate
    where: str = ""

    def certificate_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def harness_home() -> Path:
    """The folder of this user's harness identity (see the module docstring)."""
    given = os.environ.get("NOEMIE_SIM_HARNESS_DIR")
    if given:
        return Path(given)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "noemie-sim" / "harness"


def _certificate(key: ed25519.Ed25519PrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, HARNESS_NAME)])  # fmt: skip
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([JOURNAL_SEAL_EKU]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, None)  # Ed25519 signs without a separate hash
    )


def _load_key(pem: bytes, where: str) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{where} is not a PEM private key without password: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise PkiError(f"{where} is not an Ed25519 key (the harness signs with Ed25519)")
    return key


#: This process's harness identities, by where they come from (loaded once).
_LOADED: dict[str, Harness] = {}


def local_harness(key_file: Path | str | None = None) -> Harness:
    """The harness identity of this process: from ``key_file`` (or
    ``$NOEMIE_SIM_HARNESS_KEY``) when given, else this user's, made at first use in
    :func:`harness_home` (0600, atomically: two processes starting at once get one key)."""
    key_file = key_file or os.environ.get("NOEMIE_SIM_HARNESS_KEY") or None
    if key_file is not None:
        where = str(Path(key_file))
        if where not in _LOADED:
            try:
                pem = Path(key_file).read_bytes()
            except OSError as exc:
                raise PkiError(f"cannot read the harness key {where}: {exc.strerror}") from None
            key = _load_key(pem, where)
            _LOADED[where] = Harness(key, _certificate(key), where)
        return _LOADED[where]
    home = harness_home()
    where = str(home)
    if where not in _LOADED:
        _LOADED[where] = _user_harness(home)
    return _LOADED[where]


def _user_harness(home: Path) -> Harness:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(home / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (home / "key.pem").exists():
                key = ed25519.Ed25519PrivateKey.generate()
                pem = key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())  # fmt: skip
                write_file(home / "key.pem", pem, private=True)
                write_file(home / "cert.pem",
                           _certificate(key).public_bytes(serialization.Encoding.PEM))  # fmt: skip
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    key = _load_key((home / "key.pem").read_bytes(), str(home / "key.pem"))
    cert = x509.load_pem_x509_certificate((home / "cert.pem").read_bytes())
    return Harness(key, cert, str(home))


def trusted_harness_certificate() -> x509.Certificate | None:
    """The certificate of this machine's harness (``$NOEMIE_SIM_HARNESS_KEY``'s, or the
    user's), None when this user has none: what ``verify`` trusts without ``--root``."""
    if os.environ.get("NOEMIE_SIM_HARNESS_KEY"):
        return local_harness().cert
    with contextlib.suppress(OSError, ValueError):
        return x509.load_pem_x509_certificate((harness_home() / "cert.pem").read_bytes())
    return None


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate, as ``openssl x509 -fingerprint`` prints it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def sign(harness: Harness, data: bytes) -> dict[str, str]:
    """The signature of ``data``: algorithm, base64 signature and the certificate (PEM)."""
    signature = base64.b64encode(harness.key.sign(data)).decode("ascii")
    return {
        "algorithm": ALGORITHM,
        "signature": signature,
        "certificate": harness.certificate_pem(),
    }


def verify(signed: Mapping[str, object], data: bytes, trusted: x509.Certificate) -> None:
    """Check that ``signed`` (as :func:`sign` made it) signs ``data`` with the key of the
    ``trusted`` harness certificate; PkiError saying what is wrong otherwise. The certificate
    ``signed`` carries is never trusted: it only names who signed, when it is another."""
    if signed.get("algorithm") != ALGORITHM:
        raise PkiError(f"signature algorithm {signed.get('algorithm')!r} is not {ALGORITHM}")
    try:
        signature = base64.b64decode(str(signed["signature"]), validate=True)
    except (KeyError, ValueError) as exc:
        raise PkiError(f"the signature cannot be read: {exc}") from None
    try:
        usage = trusted.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    public = trusted.public_key()
    if (
        usage is None
        or JOURNAL_SEAL_EKU not in usage
        or not isinstance(public, ed25519.Ed25519PublicKey)
    ):
        raise PkiError("the certificate trusted is not a harness certificate (journal seal, "
                       "Ed25519): give the one `noemie-sim harness --export` writes")  # fmt: skip
    try:
        public.verify(signature, data)
    except InvalidSignature:
        other = _other_signer(signed, trusted)
        if other is not None:
            raise OtherHarness(f"signed by another harness ({fingerprint(other)}) than the one "
                               f"trusted ({fingerprint(trusted)}): give its certificate with "
                               "--root if you trust it") from None  # fmt: skip
        trusted_print = fingerprint(trusted)
        raise PkiError(f"the signature does not match with the harness trusted "
                       f"({trusted_print}): what was signed was changed") from None  # fmt: skip


class OtherHarness(PkiError):
    """A signature that names another harness than the one trusted (it may be intact)."""


def _other_signer(
    signed: Mapping[str, object], trusted: x509.Certificate
) -> x509.Certificate | None:
    """The certificate the signature names, when it is another harness than ``trusted``."""
    try:
        cert = x509.load_pem_x509_certificate(str(signed["certificate"]).encode("ascii"))
    except (KeyError, ValueError):
        return None
    return None if cert.public_key() == trusted.public_key() else cert
