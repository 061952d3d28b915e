"""Forging certificates and CMS structures for the negative tests.

Everything here is built with cryptography and asn1crypto directly, the way an attacker or a
misconfigured partner would, never with the PKI's own issuing code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from noemie_sim.pki.authority import SEAL_EKU, Identity, Pki

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PS, PS2, CPAM, OC, EMPLOYER = "751108622", "751334327", "017510000", "75942367", "86379402000835"
PARTIES = [("ps", PS), ("ps", PS2), ("cpam", CPAM), ("oc", OC), ("employer", EMPLOYER)]


def name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "forged"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def key_usage(**flags: bool) -> x509.KeyUsage:
    base = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
        False,
    )  # fmt: skip
    base.update(flags)
    return x509.KeyUsage(**base)


def certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    start: datetime = T0,
    days: int = 365,
    ca: bool = False,
    usage: x509.KeyUsage | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    digest: hashes.SHA256 | None = None,
) -> x509.Certificate:
    """A certificate with exactly the extensions asked for."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if usage is None:
        usage = (
            key_usage(key_cert_sign=True, crl_sign=True)
            if ca
            else key_usage(digital_signature=True, content_commitment=True, key_encipherment=True)
        )
    builder = builder.add_extension(usage, critical=True)
    if eku is None and not ca:
        eku = [SEAL_EKU, ExtendedKeyUsageOID.CLIENT_AUTH]
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, digest or hashes.SHA256())


def forged_identity(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, chain: tuple[x509.Certificate, ...]
) -> Identity:
    return Identity("forged", "ps", key, cert, chain)


def sector_ca(pki: Pki, sector: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    ca = pki._ca(sector)
    return ca.cert, ca.key


def root_ca(pki: Pki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    ca = pki._ca("root")
    return ca.cert, ca.key


def edit_signed(der: bytes, edit: Callable[[cms.SignedData], None]) -> bytes:
    """SignedData DER after ``edit(signed_data)`` modified the parsed structure in place."""
    signed = cms.ContentInfo.load(der)["content"]
    edit(signed)
    edited: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump(
        force=True
    )
    return edited
