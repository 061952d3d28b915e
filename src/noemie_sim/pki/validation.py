"""Certificate validation at a given (simulated) time, against the PKI folder only.

Order of the checks, so that each failure gets its own error class:

1. algorithms: RSA keys of at least 2048 bits, SHA-2 signatures (WeakAlgorithm);
2. the leaf's validity at ``at`` (Expired, NotYetValid);
3. the path to the root with cryptography's verifier at ``at``: basic constraints, CA key
   usage, path length, signatures, validity of every certificate, our EKU on the leaf
   (UnknownIssuer, Expired, WrongUsage);
4. the leaf's key usage for the purpose (WrongUsage);
5. revocation: for every certificate below the root, a CRL of its issuer valid at ``at``
   (signed by the issuer, lastUpdate <= at <= nextUpdate) must exist and must not list it
   (NoValidCrl, Revoked). cryptography's verifier does no revocation checking at all.

Trust anchors come only from :class:`TrustStore`, built from the PKI folder; certificates that
arrive inside a message are at most untrusted intermediates.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .authority import SEAL_EKU, Pki, utc
from .errors import (
    Expired,
    NotYetValid,
    NoValidCrl,
    Revoked,
    UnknownIssuer,
    WeakAlgorithm,
    WrongUsage,
)

MIN_RSA_BITS = 2048
STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class Purpose(Enum):
    """What a certificate is being validated for."""

    SIGN = "sign"  #: sealing files: our EKU and digitalSignature or nonRepudiation
    ENCRYPT = "encrypt"  #: receiving files: keyEncipherment
    LOGIN = "login"  #: SFTP login: our EKU, digitalSignature


@dataclass(frozen=True)
class TrustStore:
    """The root, the intermediates and every CRL of the PKI folder. Immutable: a revocation
    is seen by loading a new store, so what :func:`validate` remembers of a store (its
    ``_validated`` memo) can never outlive a CRL."""

    root: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    # init=False: a store made by dataclasses.replace() starts with an empty memo
    _validated: dict[object, _Validity] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    @classmethod
    def load(cls, pki: Pki) -> TrustStore:
        """Read the folder now: a revocation written since is seen by the next load."""
        return cls(pki.root(), tuple(pki.intermediates()), tuple(pki.crls()))


def _eku_check(_policy: object, _cert: object, eku: x509.ExtendedKeyUsage | None) -> None:
    if eku is None or SEAL_EKU not in list(eku):
        raise ValueError("extended key usage for sealing exchange files is missing")


_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _eku_check)
)
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()


def validate(
    leaf: x509.Certificate,
    trust: TrustStore,
    at: datetime,
    purpose: Purpose,
    untrusted: Sequence[x509.Certificate] = (),
) -> list[x509.Certificate]:
    """The chain [leaf, intermediate, root] if ``leaf`` is valid for ``purpose`` at ``at``;
    otherwise a :class:`~noemie_sim.pki.errors.CertificateError` (or WeakAlgorithm).

    A success is remembered by the store with the span of time over which every input of
    the decision stays the same (:func:`_validity`): the periods of the chain's
    certificates, which CRLs are in force and the revocation dates they list. Asked again
    inside that span, the answer is the remembered chain; failures are never remembered."""
    at = utc(at)
    key = (leaf, purpose, tuple(untrusted))
    known = trust._validated.get(key)
    if known is not None and known.start <= at <= known.end:
        return list(known.chain)
    chain = _validate(leaf, trust, at, purpose, untrusted)
    if len(trust._validated) >= _MAX_REMEMBERED:
        trust._validated.clear()
    trust._validated[key] = _validity(chain, trust.crls, at)
    return chain


#: Successes a store remembers at most (a run has a few per party and purpose).
_MAX_REMEMBERED = 100_000
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Validity:
    """A chain that :func:`validate` accepted, and the span [start, end] over which the same
    inputs give the same answer."""

    chain: tuple[x509.Certificate, ...]
    start: datetime
    end: datetime


def _validity(
    chain: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    at: datetime,
) -> _Validity:
    """The span around ``at`` over which a validation of ``chain`` decides as at ``at``:
    inside every certificate's period; while the same CRLs of each issuer are in force
    (none expires, none starts); before any listed revocation of a certificate of the chain
    that is still in the future at ``at``."""
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    for cert, issuer in itertools.pairwise(chain):
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            next_update = crl.next_update_utc
            if crl.last_update_utc > at:
                end = min(end, crl.last_update_utc - _TICK)
            elif next_update is not None and next_update < at:
                start = max(start, next_update + _TICK)
            else:
                start = max(start, crl.last_update_utc)
                if next_update is not None:
                    end = min(end, next_update)
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None and entry.revocation_date_utc > at:
                    end = min(end, entry.revocation_date_utc - _TICK)
    return _Validity(tuple(chain), start, end)


def _validate(
    leaf: x509.Certificate,
    trust: TrustStore,
    at: datetime,
    purpose: Purpose,
    untrusted: Sequence[x509.Certificate],
) -> list[x509.Certificate]:
    _check_algorithms(leaf)
    _check_period(leaf, at, "certificate")
    intermediates = [*trust.intermediates, *(c for c in untrusted if c != leaf)]
    verifier = (
        PolicyBuilder()
        .store(Store([trust.root]))
        .time(at)
        .max_chain_depth(2)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        chain = list(verifier.verify(leaf, intermediates).chain)
    except VerificationError as exc:
        raise _classify(exc, leaf, intermediates, at) from None
    for cert in chain[1:]:
        _check_algorithms(cert)
    _check_usage(leaf, purpose)
    check_revocation(chain, trust.crls, at)
    return chain


def _check_algorithms(cert: x509.Certificate) -> None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise WeakAlgorithm(f"RSA key of {key.key_size} bits in {_who(cert)}")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise WeakAlgorithm(f"unsupported key type in {_who(cert)}")
    if not isinstance(cert.signature_hash_algorithm, STRONG_HASHES):
        raise WeakAlgorithm(f"{_who(cert)} is signed with a weak or unknown hash")


def _check_period(cert: x509.Certificate, at: datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise NotYetValid(f"{what} {_who(cert)} is valid from {cert.not_valid_before_utc}")
    if at > cert.not_valid_after_utc:
        raise Expired(f"{what} {_who(cert)} expired at {cert.not_valid_after_utc}")


def _classify(
    exc: VerificationError,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    at: datetime,
) -> Exception:
    """Turn the verifier's message into our error classes."""
    message = str(exc)
    if "extended key usage" in message or "EKU" in message:
        return WrongUsage(f"{_who(leaf)}: {message}")
    issuers = [c for c in intermediates if c.subject == leaf.issuer]
    for issuer in issuers:
        try:
            _check_period(issuer, at, "intermediate")
        except (Expired, NotYetValid) as period_error:
            if len(issuers) == 1:
                return period_error
    if "not valid at validation time" in message:
        return Expired(f"a certificate of the chain of {_who(leaf)} is not valid at {at}")
    return UnknownIssuer(f"no trusted path for {_who(leaf)}: {message}")


def _check_usage(leaf: x509.Certificate, purpose: Purpose) -> None:
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise WrongUsage(f"{_who(leaf)} has no key usage") from None
    if purpose is Purpose.ENCRYPT and not usage.key_encipherment:
        raise WrongUsage(f"{_who(leaf)} may not receive encrypted files (no keyEncipherment)")
    if purpose is Purpose.SIGN and not (usage.digital_signature or usage.content_commitment):
        raise WrongUsage(f"{_who(leaf)} may not sign (no digitalSignature/nonRepudiation)")
    if purpose is Purpose.LOGIN and not usage.digital_signature:
        raise WrongUsage(f"{_who(leaf)} may not authenticate (no digitalSignature)")


def check_revocation(
    chain: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    at: datetime,
) -> None:
    """Every certificate of ``chain`` but the root against a CRL of its issuer valid at
    ``at``: fail closed (NoValidCrl) when there is none."""
    at = utc(at)
    for cert, issuer in itertools.pairwise(chain):
        valid = [
            crl
            for crl in crls
            if _issued_by(crl, issuer)
            and crl.last_update_utc <= at
            and (crl.next_update_utc is None or at <= crl.next_update_utc)
        ]
        if not valid:
            raise NoValidCrl(f"no CRL of {_who(issuer)} valid at {at}")
        latest = max(valid, key=_crl_number)
        entry = latest.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= at:
            raise Revoked(f"{_who(cert)} revoked at {entry.revocation_date_utc}")


def _issued_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether ``crl`` names ``issuer`` as its issuer and ``issuer``'s key signed it.
    Remembered by the CRL's DER bytes and the issuer (compared by its DER bytes): the answer
    for the same pair never changes, and an RSA verification per CRL at every login and every
    check of a session was most of what a validation cost (then the names: each CRL's issuer
    and the certificate's subject are made as Python objects at every reading, 0.25 ms a
    login against a PKI's dozen CRLs)."""
    return _crl_issued_by(crl.public_bytes(serialization.Encoding.DER), issuer)


@functools.lru_cache(maxsize=4096)
def _crl_issued_by(der: bytes, issuer: x509.Certificate) -> bool:
    crl = x509.load_der_x509_crl(der)
    return crl.issuer == issuer.subject and crl.is_signature_valid(
        issuer.public_key()  # type: ignore[arg-type]
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return -1


def _who(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()
