"""Why a certificate or a sealed file is refused: one class and one code per reason.

``code`` is stable (journals, ARL anomalies and tests use it). ``str(error)`` is the detailed
reason for our own logs. :attr:`SealError.public_message` is what may be shown to the peer who
sent the file: every failure to decrypt (wrong key, bad padding, bad tag, malformed envelope)
gives the same public message, so that no padding or decryption oracle leaks.
"""

from __future__ import annotations

UNDECRYPTABLE = "the file could not be opened"


class PkiError(Exception):
    """A PKI operation that cannot be done (unknown party, bad role, folder not a PKI)."""


class SealError(Exception):
    """A certificate or sealed file refused; subclasses say why."""

    code = "refused"
    #: what a peer may be told; subclasses that could leak detail keep the uniform text
    public_message = UNDECRYPTABLE

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Malformed(SealError):
    """Not a well-formed CMS structure (bad DER, indefinite length, trailing bytes, too big)."""

    code = "malformed"


class NotCms(SealError):
    """Not a CMS file at all: a plain file, sent without being signed nor encrypted."""

    code = "not-cms"
    public_message = "not a sealed file: neither signed nor encrypted"


class NotEncrypted(SealError):
    """A CMS SignedData where an envelope was expected: signed, but not encrypted."""

    code = "not-encrypted"
    public_message = "signed but not encrypted"


class NotSigned(SealError):
    """An envelope that decrypted to something other than a SignedData: encrypted, but not
    signed (said only after a successful decryption, so it reveals nothing of the key)."""

    code = "not-signed"
    public_message = "encrypted but not signed"


class Undecryptable(SealError):
    """Decryption failed: no key, wrong key transport result, padding or GCM tag failure.
    Deliberately one class: the peer must not learn which step failed."""

    code = "undecryptable"


class WrongRecipient(SealError):
    """The envelope is not for us, or the file names another recipient than us."""

    code = "wrong-recipient"


class BadSignature(SealError):
    """The signature does not verify, or the SignedData is not signed by exactly one signer."""

    code = "bad-signature"
    public_message = "signature invalid"


class Tampered(SealError):
    """The signed content or a signed attribute was modified (messageDigest mismatch)."""

    code = "tampered"
    public_message = "signature invalid"


class WeakAlgorithm(SealError):
    """A digest, signature, key size or content cipher outside our allow-list."""

    code = "weak-algorithm"
    public_message = "algorithm not accepted"


class CertificateError(SealError):
    """Base of the certificate policy failures."""

    code = "certificate"
    public_message = "certificate not accepted"


class Expired(CertificateError):
    code = "expired"


class NotYetValid(CertificateError):
    code = "not-yet-valid"


class Revoked(CertificateError):
    code = "revoked"


class NoValidCrl(CertificateError):
    """No CRL valid at the validation time for an issuer of the chain: fail closed."""

    code = "no-valid-crl"


class UnknownIssuer(CertificateError):
    """No path to our root: unknown root, missing intermediate, forged or misused certificate."""

    code = "unknown-issuer"


class WrongUsage(CertificateError):
    """The certificate is not for this purpose (extended key usage or key usage)."""

    code = "wrong-usage"


class SenderMismatch(SealError):
    """The signer is not the sender the file declares."""

    code = "sender-mismatch"
    public_message = "signer is not the declared sender"
