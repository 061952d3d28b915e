"""Sealed files: CMS SignedData inside CMS AuthEnvelopedData.

seal = sign the file (SignedData, attached, binary, RSA-PSS/SHA-256, signer certificate and its
intermediate embedded), then encrypt for the recipient (AuthEnvelopedData, AES-256-GCM, key
transported with RSA-OAEP-SHA256). The signed bytes are the file itself: ``openssl cms`` can
seal and open our files, and we open what it makes.

open = check the DER, decrypt, verify the one signature, validate the signer at the given time
against the PKI folder, check the signer is the sender the file declares and that the file is
addressed to us, return the content. What cryptography cannot do (verify SignedData, build or
read AuthEnvelopedData, RSA-OAEP key transport) is done here with asn1crypto for the ASN.1 and
cryptography for every cryptographic operation (stack-notes §2).

Also opened, and flagged ``legacy``: EnvelopedData with AES-CBC and PKCS#1 v1.5 key transport,
what cryptography's own envelope builder and openssl's defaults produce.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs7

from .authority import Identity, party_id
from .errors import (
    BadSignature,
    Malformed,
    NotCms,
    NotEncrypted,
    NotSigned,
    SenderMismatch,
    Tampered,
    Undecryptable,
    WeakAlgorithm,
    WrongRecipient,
)
from .validation import Purpose, TrustStore, validate

#: A sealed file larger than this is refused before any parsing (64 MiB of content + overhead).
MAX_SEALED_BYTES = 64 * 1024 * 1024 + 64 * 1024
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {**_HASHES, "sha1": hashes.SHA1}
_GCM = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_CBC = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


class _GCMParameters(core.Sequence):  # type: ignore[misc]
    """RFC 5084 GCMParameters, which asn1crypto knows by OID but cannot parse."""

    _fields = [  # noqa: RUF012  (asn1crypto's declaration style)
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


for _name in _GCM:
    algos.EncryptionAlgorithm._oid_specs[_name] = _GCMParameters


@dataclass(frozen=True)
class Opened:
    """A sealed file, opened: its content, who sealed it, and how."""

    content: bytes
    sender: str
    signer: x509.Certificate
    sealed_sha256: str
    legacy: bool = False


# -- DER ------------------------------------------------------------------------------------

#: Errors asn1crypto raises, often lazily on first access to a field, for bad structures.
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def check_der(data: bytes, max_depth: int = 40) -> None:
    """Refuse anything but one definite-length DER element with nothing after it: BER
    indefinite lengths, truncation, trailing bytes, absurd nesting (Malformed)."""
    if not data:
        raise Malformed("empty file")
    try:
        _tag, start, length = _der_header(data, 0, len(data))
        if start + length != len(data):
            raise Malformed("bytes after the ASN.1 element")
        _der_walk(data, 0, len(data), 0, max_depth)
    except IndexError:
        raise Malformed("truncated ASN.1") from None


def _der_header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, length) of the element at ``pos``."""
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    first = data[pos]
    pos += 1
    if first == 0x80:
        raise Malformed("indefinite length (BER) is not accepted")
    length = first
    if first & 0x80:
        size = first & 0x7F
        if size > 8:
            raise Malformed("ASN.1 length field too long")
        length = int.from_bytes(data[pos : pos + size], "big")
        if length < 0x80 or data[pos] == 0:
            raise Malformed("non-minimal ASN.1 length (not DER)")
        pos += size
    if pos > end or pos + length > end:
        raise Malformed("truncated ASN.1: an element runs past its end")
    return tag, pos, length


#: Constructed elements of this many bytes are checked once per distinct content (a
#: certificate: every file of a sender carries the same ones), not at every file.
_REMEMBERED_DER = (256, 16384)


def _der_walk(data: bytes, pos: int, end: int, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise Malformed("ASN.1 nested too deeply")
    low, high = _REMEMBERED_DER
    while pos < end:
        tag, start, length = _der_header(data, pos, end)
        if tag & 0x20:
            if tag == _SEQUENCE and low <= length <= high:
                _well_formed(data[start : start + length], max_depth - depth - 1)
            else:
                _der_walk(data, start, start + length, depth + 1, max_depth)
        pos = start + length


@functools.lru_cache(maxsize=512)
def _well_formed(contents: bytes, depth_left: int) -> None:
    """:func:`check_der` of the contents of one constructed element, whose nesting may go
    ``depth_left`` levels deeper; remembered only when it passes."""
    try:
        _der_walk(contents, 0, len(contents), 0, depth_left)
    except IndexError:
        raise Malformed("truncated ASN.1") from None


# -- signing --------------------------------------------------------------------------------


def sign(content: bytes, signer: Identity) -> bytes:
    """SignedData (DER) over ``content``: attached, binary, RSA-PSS SHA-256, with the signer's
    certificate and intermediate, without signed attributes (no wall-clock signing time)."""
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(
            signer.cert,
            signer.key,
            hashes.SHA256(),
            rsa_padding=asym.PSS(asym.MGF1(hashes.SHA256()), asym.PSS.DIGEST_LENGTH),
        )
    )
    # add_certificate must come after set_data/add_signer, which rebuild the builder without
    # the extra certificates (stack-notes §2.1).
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder.sign(
        serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoAttributes]
    )


@dataclass(frozen=True)
class Signed:
    content: bytes
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class _SignerInfo:
    """The fields of the one SignerInfo, read out of asn1crypto's lazy structures."""

    signer: x509.Certificate
    digest_name: str
    signature_algo: str
    pss: tuple[str, str, int] | None  # (hash, MGF1 hash, salt length)
    attributes: dict[str, object] | None  # signed attributes by name, None when absent
    signed_attributes: bytes  # their DER as signed (SET OF), b"" when absent
    signature: bytes


def verify(der: bytes) -> Signed:
    """Check one SignedData: exactly one signer, allow-listed algorithms, messageDigest and
    contentType when signed attributes are present, the signature. Chain and revocation are
    :func:`validate`'s job."""
    check_der(der)
    content, certificates, info = _read_own_signed_data(der) or _read_signed_data(der)
    if info.digest_name not in _HASHES:
        raise WeakAlgorithm(f"digest {info.digest_name} is not accepted")
    if info.attributes is not None:
        digest = hashlib.new(info.digest_name, content).digest()
        found = info.attributes
        if "message_digest" not in found or "content_type" not in found:
            raise Tampered("signed attributes without messageDigest or contentType")
        if found["content_type"] != "data":
            raise Tampered("contentType attribute differs from the content type")
        if not isinstance(found["message_digest"], bytes) or not hmac.compare_digest(
            found["message_digest"], digest
        ):
            raise Tampered("messageDigest does not match the content: content modified")
        to_verify = info.signed_attributes
    else:
        to_verify = content
    _verify_signature(info, to_verify)
    return Signed(content, info.signer, certificates)


def _read_signed_data(der: bytes) -> tuple[bytes, tuple[x509.Certificate, ...], _SignerInfo]:
    """Everything :func:`verify` needs, as plain values; Malformed or BadSignature otherwise."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise Malformed("not a SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "data":
            raise Malformed("signed content is not of type data")
        content = encap["content"].native
        if content is None:
            raise Malformed("detached signature: the file is not inside")
        infos = list(signed["signer_infos"])
        if len(infos) != 1:
            raise BadSignature(f"{len(infos)} signers: exactly one is required")
        embedded = [
            _embedded(c.chosen.dump()) for c in signed["certificates"] if c.name == "certificate"
        ] if signed["certificates"] else []  # fmt: skip
        certificates = tuple(e.cert for e in embedded)
        signer_info = infos[0]
        signer = _signer_certificate(signer_info["sid"], embedded)
        algorithm = signer_info["signature_algorithm"]
        pss = None
        if algorithm.signature_algo == "rsassa_pss":
            params = algorithm["parameters"]
            _null_parameters(params["hash_algorithm"])
            _null_parameters(params["mask_gen_algorithm"]["parameters"])
            pss = (
                params["hash_algorithm"]["algorithm"].native,
                params["mask_gen_algorithm"]["parameters"]["algorithm"].native,
                params["salt_length"].native,
            )
        _null_parameters(signer_info["digest_algorithm"])
        attrs = signer_info["signed_attrs"]
        attributes = None
        if attrs:  # an absent optional field is a Void: test truthiness
            attributes = {a["type"].native: a["values"][0].native for a in attrs}
        return (
            content,
            certificates,
            _SignerInfo(
                signer=signer,
                digest_name=signer_info["digest_algorithm"]["algorithm"].native,
                signature_algo=algorithm.signature_algo,
                pss=pss,
                attributes=attributes,
                # signed over as SET OF, not as the [0] IMPLICIT tag they are stored with
                signed_attributes=b"\x31" + attrs.dump()[1:] if attrs else b"",
                signature=signer_info["signature"].native,
            ),
        )
    except _ASN1_ERRORS as exc:
        raise Malformed(f"SignedData cannot be read: {exc}") from None


def _null_parameters(algorithm: algos.DigestAlgorithm) -> None:
    """A hash AlgorithmIdentifier's parameters must be absent or NULL: asn1crypto would
    silently ignore anything else there."""
    if algorithm["parameters"].dump() not in (b"", b"\x05\x00"):
        raise Malformed("hash algorithm parameters must be absent or NULL")


@dataclass(frozen=True)
class _Embedded:
    """A certificate carried in a SignedData, and what identifies it to a SignerInfo."""

    cert: x509.Certificate
    issuer: bytes  # the issuer Name's DER, exactly as in the certificate
    serial: int
    key_identifier: bytes | None
    issuer_serial: bytes  # IssuerAndSerialNumber DER, as a SignerInfo names the certificate


@functools.lru_cache(maxsize=4096)
def _embedded(der: bytes) -> _Embedded:
    """Parse a certificate found in a message once per distinct certificate: every file of a
    sender carries the same two. Malformed ones raise as asn1crypto and cryptography do (the
    caller turns that into Malformed); the cache keeps only what parsed."""
    parsed = a_x509.Certificate.load(der, strict=True)
    tbs = parsed["tbs_certificate"]
    return _Embedded(
        x509.load_der_x509_certificate(der),
        parsed.issuer.dump(),
        parsed.serial_number,
        parsed.key_identifier,
        _der(0x30, tbs["issuer"].dump() + tbs["serial_number"].dump()),
    )


def _signer_certificate(sid: cms.SignerIdentifier, embedded: list[_Embedded]) -> x509.Certificate:
    for candidate in embedded:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if (
                candidate.issuer == ias["issuer"].dump()
                and candidate.serial == ias["serial_number"].native
            ):
                return candidate.cert
        elif candidate.key_identifier == sid.chosen.native:
            return candidate.cert
    raise BadSignature("the signer's certificate is not in the SignedData")


def _verify_signature(info: _SignerInfo, data: bytes) -> None:
    key = info.signer.public_key()
    try:
        if info.pss is not None and isinstance(key, rsa.RSAPublicKey):
            hash_name, mgf_hash, salt = info.pss
            if hash_name not in _HASHES or mgf_hash not in _HASHES:
                raise WeakAlgorithm(f"PSS with {hash_name}/{mgf_hash} is not accepted")
            pss = asym.PSS(asym.MGF1(_HASHES[mgf_hash]()), salt)
            key.verify(info.signature, data, pss, _HASHES[hash_name]())
        elif info.signature_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(info.signature, data, asym.PKCS1v15(), _HASHES[info.digest_name]())
        elif info.signature_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(info.signature, data, ec.ECDSA(_HASHES[info.digest_name]()))
        else:
            raise WeakAlgorithm(f"signature algorithm {info.signature_algo} is not accepted")
    except InvalidSignature:
        raise BadSignature("the signature does not verify") from None
    except (ValueError, TypeError) as exc:
        raise Malformed(f"signature parameters cannot be used: {exc}") from None


# -- enveloping -----------------------------------------------------------------------------


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


_OAEP_SHA256 = algos.RSAESOAEPParams(
    {
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
    }
)
_KEY_ALGORITHM = cms.KeyEncryptionAlgorithm(
    {"algorithm": "rsaes_oaep", "parameters": _OAEP_SHA256}
).dump()
_ID_AES256_GCM = bytes.fromhex("060960864801650304012e")
_ID_DATA = bytes.fromhex("06092a864886f70d010701")


@functools.lru_cache(maxsize=4096)
def _issuer_serial(cert: x509.Certificate) -> bytes:
    """IssuerAndSerialNumber of ``cert`` (DER), its issuer's bytes exactly as in the
    certificate."""
    tbs = a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))["tbs_certificate"]
    return _der(0x30, tbs["issuer"].dump() + tbs["serial_number"].dump())


@functools.lru_cache(maxsize=4096)
def _as_asn1(cert: x509.Certificate) -> a_x509.Certificate:
    """``cert`` parsed by asn1crypto, once per certificate (read only)."""
    return a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


_ID_AUTH_ENVELOPED = bytes.fromhex("060b2a864886f70d0109100117")


def envelope(data: bytes, recipient: x509.Certificate) -> bytes:
    """AuthEnvelopedData (RFC 5083) for ``recipient``: AES-256-GCM, RSA-OAEP-SHA256. The outer
    structure is concatenated by hand: building it with asn1crypto re-serialises on every
    assignment and was 6x slower (stack-notes §2.3)."""
    cek, nonce = AESGCM.generate_key(256), os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, data, None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    wrapped = recipient.public_key().encrypt(  # type: ignore[union-attr]
        cek, asym.OAEP(mgf=asym.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    recipient_info = _der(
        0x30, b"\x02\x01\x00" + _issuer_serial(recipient) + _KEY_ALGORITHM + _der(0x04, wrapped)
    )
    # AlgorithmIdentifier { aes256-GCM, GCMParameters { nonce, icvLen 16 } }
    content_algorithm = _der(0x30, _ID_AES256_GCM + _der(0x30, _der(0x04, nonce) + b"\x02\x01\x10"))
    encrypted_info = _der(0x30, _ID_DATA + content_algorithm + _der(0x80, ciphertext))
    body = _der(
        0x30, b"\x02\x01\x00" + _der(0x31, recipient_info) + encrypted_info + _der(0x04, tag)
    )
    return _der(0x30, _ID_AUTH_ENVELOPED + _der(0xA0, body))


@dataclass(frozen=True)
class _Envelope:
    """What :func:`decrypt` needs of an envelope, read out of asn1crypto's lazy structures."""

    gcm: bool
    key_size: int
    wrapped_key: bytes
    oaep: tuple[str, str] | None  # (hash, MGF1 hash); None: PKCS#1 v1.5 key transport
    iv: bytes  # GCM nonce or CBC IV
    tag: bytes  # GCM only
    aad: bytes  # GCM only: the authenticated attributes
    ciphertext: bytes


def decrypt(der: bytes, me: Identity) -> tuple[bytes, bool]:
    """The plaintext of an envelope for ``me`` and whether it used the legacy (CBC, PKCS#1
    v1.5) scheme. Every failure after the recipient lookup is the same Undecryptable."""
    if len(der) > MAX_SEALED_BYTES:
        raise Malformed(f"sealed file of {len(der)} bytes exceeds {MAX_SEALED_BYTES}")
    if not _starts_as_cms(der):
        raise NotCms("the file does not start as a CMS structure: a plain file")
    check_der(der)
    if _content_type(der) == "signed_data":
        raise NotEncrypted("a SignedData, not an envelope: the file was not encrypted")
    env = _read_own_envelope(der, me.cert) or _read_envelope(der, me.cert)
    try:
        if env.oaep is not None:
            hash_name, mgf_name = env.oaep
            oaep = asym.OAEP(asym.MGF1(_OAEP_HASHES[mgf_name]()), _OAEP_HASHES[hash_name](), None)
            cek = me.key.decrypt(env.wrapped_key, oaep)
        else:
            cek = me.key.decrypt(env.wrapped_key, asym.PKCS1v15())
        if len(cek) != env.key_size:
            raise ValueError("content key of the wrong size")
    except ValueError:
        # A wrong key must fail exactly like a bad tag or padding later: a random key makes
        # the content decryption fail, with no distinguishable error (Bleichenbacher).
        cek = os.urandom(env.key_size)
    try:
        if env.gcm:
            aead = Cipher(algorithms.AES(cek), modes.GCM(env.iv, env.tag)).decryptor()
            aead.authenticate_additional_data(env.aad)
            return aead.update(env.ciphertext) + aead.finalize(), False
        cbc = Cipher(algorithms.AES(cek), modes.CBC(env.iv)).decryptor()
        padded = cbc.update(env.ciphertext) + cbc.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize(), True
    except (InvalidTag, ValueError):
        raise Undecryptable("content decryption failed") from None


_SEQUENCE = 0x30  # the DER tag every CMS ContentInfo starts with
#: DER of the start of the OIDs of the CMS content types (PKCS #7, S/MIME: 1.2.840.113549.1)
_PKCS_ARC = bytes.fromhex("2a864886f70d01")


def _starts_as_cms(data: bytes) -> bool:
    """Whether ``data`` starts like a ContentInfo, as far as it goes: a SEQUENCE whose first
    element is an OID of the PKCS arc. A damaged or truncated sealed file still does (it is
    Malformed); a plain file does not (a B2 file starts with "0", the SEQUENCE tag, so the tag
    alone does not tell)."""
    if not data:
        return True  # empty: check_der says so
    if data[0] != _SEQUENCE:
        return False
    if len(data) < 2:
        return True
    first = data[1]
    start = 2 + (first & 0x7F if first & 0x80 else 0)
    oid = data[start : start + 2 + len(_PKCS_ARC)]
    if not oid:
        return True
    return oid[0] == 0x06 and oid[2:] == _PKCS_ARC[: max(0, len(oid) - 2)]


def _read_envelope(der: bytes, cert: x509.Certificate) -> _Envelope:
    """Malformed, WeakAlgorithm or WrongRecipient unless the envelope is well formed, uses
    allowed algorithms and holds a key for ``cert``."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind not in ("authenticated_enveloped_data", "enveloped_data"):
            raise Malformed(f"not an envelope but {kind}")
        gcm = kind == "authenticated_enveloped_data"
        env = info["content"]
        if env["version"].native not in (("v0",) if gcm else ("v0", "v2")):
            raise Malformed(f"unexpected envelope version {env['version'].native}")
        if env["unauth_attrs" if gcm else "unprotected_attrs"] or env["originator_info"]:
            raise Malformed("unexpected originator or unprotected attributes")
        encrypted = env["auth_encrypted_content_info" if gcm else "encrypted_content_info"]
        if encrypted["content_type"].native != "data":
            raise Malformed("the encrypted content is not of type data")
        algorithm = encrypted["content_encryption_algorithm"]
        cipher_name = algorithm["algorithm"].native
        if cipher_name not in (_GCM if gcm else _CBC):
            raise WeakAlgorithm(f"content encryption {cipher_name} is not accepted")
        wrapped, transport = _find_recipient(list(env["recipient_infos"]), cert)
        oaep = None
        if transport["algorithm"].native == "rsaes_oaep":
            params = transport["parameters"]
            if params:
                _null_parameters(params["hash_algorithm"])
                _null_parameters(params["mask_gen_algorithm"]["parameters"])
            oaep = (
                params["hash_algorithm"]["algorithm"].native if params else "sha1",
                params["mask_gen_algorithm"]["parameters"]["algorithm"].native
                if params
                else "sha1",
            )
            if oaep[0] not in _OAEP_HASHES or oaep[1] not in _OAEP_HASHES:
                raise WeakAlgorithm(f"OAEP with {oaep} is not accepted")
        if gcm:
            params = algorithm["parameters"]
            if not isinstance(params, _GCMParameters):
                params = _GCMParameters.load(params.dump())
            iv, tag = params["aes_nonce"].native, env["mac"].native
            if params["aes_icvlen"].native != len(tag) or len(tag) != 16:
                raise Malformed("the GCM tag is not the 16 bytes its parameters announce")
            aad = b"\x31" + env["auth_attrs"].dump()[1:] if env["auth_attrs"] else b""
        else:
            iv, tag, aad = algorithm["parameters"].native, b"", b""
        return _Envelope(
            gcm=gcm,
            key_size=(_GCM if gcm else _CBC)[cipher_name],
            wrapped_key=wrapped,
            oaep=oaep,
            iv=iv,
            tag=tag,
            aad=aad,
            ciphertext=encrypted["encrypted_content"].native or b"",
        )
    except _ASN1_ERRORS as exc:
        raise Malformed(f"envelope cannot be read: {exc}") from None


def _find_recipient(
    recipient_infos: list[cms.RecipientInfo], cert: x509.Certificate
) -> tuple[bytes, cms.KeyEncryptionAlgorithm]:
    """Our wrapped content key and its key transport algorithm; WrongRecipient if none."""
    a_cert = _as_asn1(cert)
    for info in recipient_infos:
        if info.name != "ktri":
            continue
        ktri = info.chosen
        rid = ktri["rid"]
        if rid.name == "issuer_and_serial_number":
            ias = rid.chosen
            # exact bytes: asn1crypto's Name equality is RFC 5280 matching (case-insensitive)
            match = (
                ias["issuer"].dump() == a_cert.issuer.dump()
                and ias["serial_number"].native == a_cert.serial_number
            )
            expected_version = "v0"
        else:
            match = rid.chosen.native == a_cert.key_identifier
            expected_version = "v2"
        if match:
            if ktri["version"].native != expected_version:
                raise Malformed("recipient info version does not match its identifier")
            transport = ktri["key_encryption_algorithm"]
            if transport["algorithm"].native not in ("rsaes_oaep", "rsaes_pkcs1v15", "rsa"):
                raise WeakAlgorithm(f"key transport {transport['algorithm'].native} refused")
            return ktri["encrypted_key"].native, transport
    raise WrongRecipient("the envelope has no key for this recipient")


# -- our own structures, read without asn1crypto -----------------------------------------
#
# Nearly every file opened is one that seal() made: the same algorithms, the same layout,
# only the keys, the nonce, the certificates and the data vary. The readers below recognise
# exactly that layout, byte for byte where it is constant, on DER that check_der() has
# already accepted, and return what the asn1crypto readers would; anything else, however
# small the difference, returns None and takes the general reader, which decides. Tests hold
# both to the same result (tests/test_pki_cms.py).

_ID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_SHA256_ALGORITHM = bytes.fromhex("300d06096086480165030402010500")
#: RSASSA-PSS { SHA-256 (NULL parameters), MGF1 SHA-256, salt 32 }, as cryptography's
#: PKCS7SignatureBuilder writes it for sign()
_PSS_SHA256_ALGORITHM = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f7"
    "0d010108300d06096086480165030402010500a203020120"
)
_V0, _V1 = b"\x02\x01\x00", b"\x02\x01\x01"


class _NotOurs(Exception):
    """The structure is not exactly the one seal() makes: the general reader decides."""


class _Reader:
    """Walks DER that check_der() accepted, expecting a given layout: any surprise raises
    :class:`_NotOurs`."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def take(self, tag: int) -> tuple[int, int]:
        """(start, end) of the contents of the next element, whose tag must be ``tag``."""
        data, pos = self.data, self.pos
        if pos + 2 > self.end or data[pos] != tag:
            raise _NotOurs
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        if pos + length > self.end:
            raise _NotOurs
        self.pos = pos + length
        return pos, pos + length

    def value(self, tag: int, size: int | None = None) -> bytes:
        """The contents of the next element (of ``size`` bytes when given)."""
        start, end = self.take(tag)
        if size is not None and end - start != size:
            raise _NotOurs
        return self.data[start:end]

    def expect(self, constant: bytes) -> None:
        """Consume ``constant``, which the next bytes must be exactly."""
        if self.data[self.pos : self.pos + len(constant)] != constant:
            raise _NotOurs
        self.pos += len(constant)

    def inside(self, tag: int) -> _Reader:
        return _Reader(self.data, *self.take(tag))

    def element(self, tag: int) -> bytes:
        """The whole next element, header and contents."""
        start = self.pos
        self.take(tag)
        return self.data[start : self.pos]

    @property
    def done(self) -> bool:
        return self.pos == self.end

    def close(self) -> None:
        """Nothing may follow what was read."""
        if self.pos != self.end:
            raise _NotOurs


def _content(der: bytes, content_type: bytes) -> _Reader:
    """The SEQUENCE inside a ContentInfo { ``content_type``, [0] EXPLICIT SEQUENCE } that is
    the whole of ``der``; _NotOurs for anything else."""
    top = _Reader(der).inside(_SEQUENCE)
    if top.end != len(der):
        raise _NotOurs
    top.expect(content_type)
    explicit = top.inside(0xA0)
    top.close()
    content = explicit.inside(_SEQUENCE)
    explicit.close()
    return content


def _read_own_envelope(der: bytes, cert: x509.Certificate) -> _Envelope | None:
    """What :func:`_read_envelope` returns for an envelope as :func:`envelope` makes it for
    ``cert``: one key transport recipient (IssuerAndSerialNumber of ``cert``, RSA-OAEP
    SHA-256), AES-256-GCM with a 12-byte nonce and a 16-byte tag, no attributes. None for
    anything else."""
    try:
        body = _content(der, _ID_AUTH_ENVELOPED)
        body.expect(_V0)
        recipients = body.inside(0x31)
        ktri = recipients.inside(_SEQUENCE)
        recipients.close()
        ktri.expect(_V0)
        ktri.expect(_issuer_serial(cert))
        ktri.expect(_KEY_ALGORITHM)
        wrapped = ktri.value(0x04)
        ktri.close()
        content = body.inside(_SEQUENCE)
        content.expect(_ID_DATA)
        algorithm = content.inside(_SEQUENCE)
        algorithm.expect(_ID_AES256_GCM)
        params = algorithm.inside(_SEQUENCE)
        algorithm.close()
        nonce = params.value(0x04, 12)
        params.expect(b"\x02\x01\x10")  # icvLen 16
        params.close()
        ciphertext = content.value(0x80)
        content.close()
        tag = body.value(0x04, 16)
        body.close()
    except _NotOurs:
        return None
    return _Envelope(
        gcm=True,
        key_size=32,
        wrapped_key=wrapped,
        oaep=("sha256", "sha256"),
        iv=nonce,
        tag=tag,
        aad=b"",
        ciphertext=ciphertext,
    )


def _read_own_signed_data(
    der: bytes,
) -> tuple[bytes, tuple[x509.Certificate, ...], _SignerInfo] | None:
    """What :func:`_read_signed_data` returns for a SignedData as :func:`sign` makes it:
    version 1, SHA-256, attached data, embedded certificates, one SignerInfo naming one of
    them by IssuerAndSerialNumber, RSA-PSS SHA-256 (MGF1 SHA-256, salt 32), no attributes.
    None for anything else."""
    try:
        signed = _content(der, _ID_SIGNED_DATA)
        signed.expect(_V1)
        signed.expect(b"\x31\x0f" + _SHA256_ALGORITHM)
        encap = signed.inside(_SEQUENCE)
        encap.expect(_ID_DATA)
        attached = encap.inside(0xA0)
        encap.close()
        content = attached.value(0x04)
        attached.close()
        holder = signed.inside(0xA0)
        embedded = []
        while not holder.done:
            try:
                embedded.append(_embedded(holder.element(_SEQUENCE)))
            except _ASN1_ERRORS:
                raise _NotOurs from None
        infos = signed.inside(0x31)
        signed.close()
        info = infos.inside(_SEQUENCE)
        infos.close()
        info.expect(_V1)
        sid = info.element(_SEQUENCE)
        signer = next((e.cert for e in embedded if e.issuer_serial == sid), None)
        if signer is None:
            raise _NotOurs
        info.expect(_SHA256_ALGORITHM)
        info.expect(_PSS_SHA256_ALGORITHM)
        signature = info.value(0x04)
        info.close()
    except _NotOurs:
        return None
    return (
        content,
        tuple(e.cert for e in embedded),
        _SignerInfo(
            signer=signer,
            digest_name="sha256",
            signature_algo="rsassa_pss",
            pss=("sha256", "sha256", 32),
            attributes=None,
            signed_attributes=b"",
            signature=signature,
        ),
    )


def _content_type(der: bytes) -> str | None:
    """The content type of a DER ContentInfo, None when it is not one."""
    for oid, name in ((_ID_SIGNED_DATA, "signed_data"),
                      (_ID_AUTH_ENVELOPED, "authenticated_enveloped_data")):  # fmt: skip
        with contextlib.suppress(_NotOurs):  # ours: the general reader would say the same
            _content(der, oid)
            return name
    try:
        return str(cms.ContentInfo.load(der, strict=True)["content_type"].native)
    except _ASN1_ERRORS:
        return None


# -- the whole seal -------------------------------------------------------------------------

#: Reads the sender and recipient a file declares in its own header (the norms' émetteur and
#: destinataire), so that a validly signed file sent to someone else is refused.
PartiesOf = Callable[[bytes], tuple[str, str]]


def seal(
    content: bytes, sender: Identity, recipient: x509.Certificate, trust: TrustStore, at: datetime
) -> bytes:
    """Sign ``content`` as ``sender`` and encrypt it for ``recipient``, whose certificate must
    be valid for receiving files at ``at``."""
    validate(recipient, trust, at, Purpose.ENCRYPT)
    return envelope(sign(content, sender), recipient)


def open_sealed(
    data: bytes,
    me: Identity,
    trust: TrustStore,
    at: datetime,
    parties_of: PartiesOf | None = None,
) -> Opened:
    """Decrypt, verify, validate the signer at ``at``, bind it to the declared sender and check
    the file is addressed to ``me``. Raises a :class:`SealError` subclass on any failure."""
    digest = hashlib.sha256(data).hexdigest()
    inner, legacy = decrypt(data, me)
    if not _starts_as_cms(inner) or _content_type(inner) != "signed_data":
        raise NotSigned("the envelope holds no SignedData: the file was not signed")
    signed = verify(inner)
    validate(signed.signer, trust, at, Purpose.SIGN, untrusted=signed.certificates)
    sender = party_id(signed.signer)
    if parties_of is not None:
        try:
            declared_sender, declared_recipient = parties_of(signed.content)
        except Exception as exc:  # a format error of the content, whatever its class
            raise Malformed(f"the file does not declare its sender and recipient: {exc}") from None
        if declared_sender != sender:
            raise SenderMismatch(f"signed by {sender} but declares sender {declared_sender}")
        if declared_recipient != me.id:
            raise WrongRecipient(f"addressed to {declared_recipient}, not to {me.id}")
    return Opened(signed.content, sender, signed.signer, digest, legacy)


def describe(data: bytes, me: Identity) -> dict[str, object]:
    """What a sealed file addressed to ``me`` shows of its seal, as JSON values: its size and
    SHA-256, the envelope (content encryption, key transport) and its recipient, the signature
    (signer, its certificate's subject and serial number, digest and signature algorithms).
    Nothing here judges the signer: :func:`open_sealed` does. SealError when the file cannot
    be opened by ``me`` (as :func:`decrypt` and :func:`verify` say)."""
    check_der(data)
    env = _read_envelope(data, me.cert)
    inner, legacy = decrypt(data, me)
    content, _certificates, info = _read_signed_data(inner)
    cipher = f"aes{env.key_size * 8}_{'gcm' if env.gcm else 'cbc'}"
    transport = f"rsaes_oaep ({env.oaep[0]}, mgf1 {env.oaep[1]})" if env.oaep else "rsaes_pkcs1v15"
    signature = info.signature_algo
    if info.pss is not None:
        digest, mgf, salt = info.pss
        signature = f"rsassa_pss ({digest}, mgf1 {mgf}, salt {salt})"
    return {
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_bytes": len(content),
        "legacy": legacy,
        "envelope": {
            "type": "AuthEnvelopedData" if env.gcm else "EnvelopedData",
            "content_encryption": cipher,
            "key_transport": transport,
            "recipient": me.id,
            "recipient_subject": me.cert.subject.rfc4514_string(),
        },
        "signature": {
            "signer": party_id(info.signer),
            "signer_subject": info.signer.subject.rfc4514_string(),
            "signer_issuer": info.signer.issuer.rfc4514_string(),
            "signer_serial": format(info.signer.serial_number, "x"),
            "digest": info.digest_name,
            "algorithm": signature,
            "signed_attributes": info.attributes is not None,
        },
    }
