"""Signed JSON documents (JWS, RFC 7515, compact serialization) under the test PKI: the seal
of the REST channel, where the CMS seal is the SFTP channel's.

A document is signed with RSASSA-PSS and SHA-256 (``PS256``, the CMS seal's algorithm) by
the signer's key, and carries its certificate and intermediate in the ``x5c`` header
(RFC 7515 §4.1.6). Whoever opens it trusts only its own PKI's root: the ``x5c`` chain is
*untrusted* input, validated against that root at the time given (period, usage, CRLs),
exactly as a CMS signer is (:func:`~.validation.validate`). Any other algorithm (``none``,
the HMAC ones a public key could be confused with, PKCS#1 v1.5), a missing or unreadable
chain, a header parameter we do not understand marked critical, a signature that does not
verify: each raises a :class:`~.errors.SealError` subclass that says which. joserfc (the
maintained JOSE library of the Authlib project) does the JOSE encoding and the signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .authority import Identity, party_id
from .errors import BadSignature, Malformed, NotSigned, WeakAlgorithm
from .validation import Purpose, TrustStore, validate

ALGORITHM = "PS256"
#: the media type of a signed document's payload (its ``cty``)
CONTENT_TYPE = "application/json"
#: certificates an ``x5c`` may carry: the signer's, its intermediate, perhaps the root
MAX_CHAIN = 3
#: characters of a token read at most (a day's décomptes of one caisse for one mutuelle)
MAX_TOKEN = 64 * 1024 * 1024


@dataclass(frozen=True)
class SignedDocument:
    """What an opened document says: its payload, the signer's id and certificate."""

    payload: bytes
    signer: str
    certificate: x509.Certificate

    def json(self) -> object:
        """The payload as JSON; Malformed when it is not."""
        try:
            return json.loads(self.payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise Malformed(f"the signed payload is not JSON: {exc}") from None


def sign(payload: bytes, signer: Identity) -> str:
    """``payload`` signed by ``signer`` as a compact JWS with its chain in ``x5c``."""
    chain = [signer.cert, *(c for c in signer.chain if c.subject != c.issuer)]
    header = {
        "alg": ALGORITHM,
        "cty": CONTENT_TYPE,
        "kid": signer.id,
        "x5c": [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
        ],
    }
    key = RSAKey.import_key(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return jws.serialize_compact(header, payload, key, registry=_registry())


def open_signed(token: str | bytes, trust: TrustStore, at: datetime) -> SignedDocument:
    """Verify a compact JWS: its signer's chain (from ``x5c``) valid at ``at`` under
    ``trust``'s root and CRLs, its signature by that signer. SealError subclasses otherwise:
    Malformed, NotSigned, WeakAlgorithm, BadSignature, or a CertificateError."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise Malformed("a JWS is ASCII text") from None
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise Malformed(f"a JWS of more than {MAX_TOKEN} characters")
    header = _header(token)
    algorithm = header.get("alg")
    if algorithm != ALGORITHM:
        raise WeakAlgorithm(f"signature algorithm {str(algorithm)[:20]!r}: only {ALGORITHM} "
                            "is accepted")  # fmt: skip
    if header.get("crit"):
        raise Malformed(f"critical header parameters not understood: {header['crit']!r}"[:200])
    leaf, untrusted = _chain(header.get("x5c"))
    validate(leaf, trust, at, Purpose.SIGN, untrusted=untrusted)
    key = RSAKey.import_key(
        leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    try:
        opened = jws.deserialize_compact(token, key, registry=_registry())
    except JoseError as exc:
        raise BadSignature(f"the signature does not verify: {exc.error}") from None
    return SignedDocument(bytes(opened.payload or b""), party_id(leaf), leaf)


def _b64_der(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _registry() -> jws.JWSRegistry:
    """PS256 only, and room for our chains and a day's décomptes: joserfc's defaults (a
    header of 512 bytes, a payload of 125 KB) are those of bearer tokens."""
    registry = jws.JWSRegistry(algorithms=[ALGORITHM])
    registry.max_header_length = 8 * 1024
    registry.max_payload_length = MAX_TOKEN
    return registry


def _header(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        raise NotSigned("not a compact JWS (three base64url parts separated by dots)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise Malformed("the JWS header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise Malformed("the JWS header is not a JSON object")
    return header


def _chain(x5c: object) -> tuple[x509.Certificate, list[x509.Certificate]]:
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= MAX_CHAIN:
        raise Malformed(f"the JWS header carries no x5c chain of 1 to {MAX_CHAIN} certificates")
    certificates = []
    for n, text in enumerate(x5c, start=1):
        try:
            der = base64.b64decode(str(text), validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError):
            raise Malformed(f"x5c certificate {n} is not base64 DER") from None
    return certificates[0], certificates[1:]
