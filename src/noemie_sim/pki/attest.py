"""The harness's own signature on what it attests: the manifest that closes a run's journal.

At the start of a run the harness makes a one-off Ed25519 key and has the PKI's root certify it
(:func:`harness_identity`): an end-entity certificate directly under the root, with the
project's journal-seal extended key usage and nothing else. The private key lives only in the
running process and signs one thing, the run's manifest (:func:`sign`); it is never written to
disk. Anyone holding the root certificate checks the signature (:func:`verify`) without
trusting anything the manifest itself carries: the certificate inside it is only accepted if
the root issued it for this purpose.

What this proves, and what it does not: a journal edited after the run and re-hashed end to end
no longer matches a manifest signed under the root. Forging a new manifest needs the root's
private key. The test PKI keeps that key in the run folder's ``pki/root/key.pem``; a run folder
handed over as evidence should leave it out (``noemie-sim verify`` does not need it), or be
checked against a root certificate kept elsewhere (``--root``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from .authority import ORGANISATION, Pki, end_entity_certificate, utc
from .errors import PkiError

#: Extended key usage of the harness's journal seal (same UUID arc as the sealing EKU).
JOURNAL_SEAL_EKU = x509.ObjectIdentifier("2.25.216183593720532394937468355926498003911.2")
HARNESS_NAME = "noemie-sim harness (journal seal)"
ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class Harness:
    """A run's signing identity: the in-memory key and the root-issued certificate."""

    key: ed25519.Ed25519PrivateKey
    cert: x509.Certificate

    def certificate_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


#: Harness identities of this process, by (root certificate, start): the shards of a run that
#: one process plays one after the other share one (a key of this process only, as ever).
_HARNESSES: dict[tuple[bytes, datetime], Harness] = {}


def process_harness(pki: Pki, at: datetime) -> Harness:
    """This process's harness identity under ``pki``'s root from ``at``: made by
    :func:`harness_identity` the first time, then the same one."""
    root = (pki.folder / "root" / "cert.pem").read_bytes()
    key = (root, utc(at))
    if key not in _HARNESSES:
        _HARNESSES[key] = harness_identity(pki, at)
    return _HARNESSES[key]


def harness_identity(pki: Pki, at: datetime, days: int = 3650) -> Harness:
    """A fresh key certified by ``pki``'s root from ``at`` for ``days`` days."""
    at = utc(at)
    root_key = serialization.load_pem_private_key(
        (pki.folder / "root" / "key.pem").read_bytes(), None
    )
    if not isinstance(root_key, rsa.RSAPrivateKey):
        raise PkiError("the root key is not an RSA key")
    root = pki.root()
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, HARNESS_NAME),
        ]
    )
    cert = end_entity_certificate(
        name, key.public_key(), root, root_key, at - timedelta(days=1), at + timedelta(days=days),
        [JOURNAL_SEAL_EKU], key_encipherment=False,
    )  # fmt: skip
    return Harness(key, cert)


def sign(harness: Harness, data: bytes) -> dict[str, str]:
    """The signature of ``data``: algorithm, base64 signature and the certificate (PEM)."""
    signature = base64.b64encode(harness.key.sign(data)).decode("ascii")
    return {
        "algorithm": ALGORITHM,
        "signature": signature,
        "certificate": harness.certificate_pem(),
    }


def verify(signed: dict[str, object], data: bytes, root: x509.Certificate, at: datetime) -> None:
    """Check that ``signed`` (as :func:`sign` made it) signs ``data`` under ``root`` at ``at``;
    PkiError saying what is wrong otherwise."""
    if signed.get("algorithm") != ALGORITHM:
        raise PkiError(f"signature algorithm {signed.get('algorithm')!r} is not {ALGORITHM}")
    try:
        cert = x509.load_pem_x509_certificate(str(signed["certificate"]).encode("ascii"))
        signature = base64.b64decode(str(signed["signature"]), validate=True)
    except (KeyError, ValueError) as exc:
        raise PkiError(f"the signature or its certificate cannot be read: {exc}") from None
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise PkiError("the signing certificate was not issued by this root") from None
    at = utc(at)
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise PkiError(f"the signing certificate is not valid at {at.isoformat()}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or JOURNAL_SEAL_EKU not in usage:
        raise PkiError("the signing certificate is not a journal seal of the harness")
    public = cert.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise PkiError("the signing certificate does not carry an Ed25519 key")
    try:
        public.verify(signature, data)
    except InvalidSignature:
        raise PkiError("the signature does not match the manifest") from None
