"""Sealed files: seal/open round trip, sender binding, and the CMS negative matrix."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

import pytest
from asn1crypto import cms as a_cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noemie_sim.pki import errors
from noemie_sim.pki.authority import Identity, Pki
from noemie_sim.pki.cms import (
    MAX_SEALED_BYTES,
    check_der,
    decrypt,
    envelope,
    open_sealed,
    seal,
    sign,
    verify,
)
from noemie_sim.pki.validation import TrustStore
from noemie_sim.sim.norms import kinds, samples

from .pki_helpers import CPAM, OC, PS, PS2, T0, edit_signed
from .strategies import mutated

AT = T0 + timedelta(days=1)
LOT = samples.b2_lot()  # declares sender PS 751108622 and receiver CPAM 017510000


def test_seal_open_round_trip_binds_the_declared_parties(pki: Pki, trust: TrustStore) -> None:
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    opened = open_sealed(sealed, pki.identity(CPAM), trust, AT, kinds.declared_parties)
    assert (opened.content, opened.sender, opened.legacy) == (LOT, PS, False)
    assert len(opened.sealed_sha256) == 64
    assert LOT not in sealed  # encrypted


def test_content_is_bit_exact_including_line_ends(pki: Pki, trust: TrustStore) -> None:
    content = b"a\nb\r\nc\n\x00\xff" * 100  # the PKCS7 builder's silent canonicalisation trap
    sealed = seal(content, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    assert open_sealed(sealed, pki.identity(CPAM), trust, AT).content == content


def test_signature_embeds_signer_and_intermediate(pki: Pki) -> None:
    signed = verify(sign(b"x", pki.identity(PS)))
    assert len(signed.certificates) == 2  # the add_certificate ordering trap
    assert signed.signer == pki.certificate(PS)


def test_sender_mismatch(pki: Pki, trust: TrustStore) -> None:
    sealed = seal(LOT, pki.identity(PS2), pki.certificate(CPAM), trust, AT)  # LOT declares PS
    with pytest.raises(errors.SenderMismatch):
        open_sealed(sealed, pki.identity(CPAM), trust, AT, kinds.declared_parties)


def test_wrong_recipient(pki: Pki, trust: TrustStore) -> None:
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    with pytest.raises(errors.WrongRecipient):
        open_sealed(sealed, pki.identity(OC), trust, AT)


def test_re_enveloped_to_a_third_party_is_refused(pki: Pki, trust: TrustStore) -> None:
    """Surreptitious forwarding: the CPAM re-envelopes the PS's signed lot for a mutuelle."""
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    inner, _ = decrypt(sealed, pki.identity(CPAM))
    forwarded = envelope(inner, pki.certificate(OC))
    open_sealed(forwarded, pki.identity(OC), trust, AT)  # signature valid, without the binding
    with pytest.raises(errors.WrongRecipient):
        open_sealed(forwarded, pki.identity(OC), trust, AT, kinds.declared_parties)


def test_revoked_signer_refused_at_the_right_time(fresh_pki: Pki) -> None:
    trust = TrustStore.load(fresh_pki)
    sealed = seal(LOT, fresh_pki.identity(PS), fresh_pki.certificate(CPAM), trust, AT)
    when = AT + timedelta(hours=1)
    fresh_pki.revoke(PS, when)
    trust = TrustStore.load(fresh_pki)  # another process's revocation seen at the next load
    open_sealed(sealed, fresh_pki.identity(CPAM), trust, when - timedelta(minutes=5))
    with pytest.raises(errors.Revoked):
        open_sealed(sealed, fresh_pki.identity(CPAM), trust, when + timedelta(minutes=5))


def test_no_sealing_to_a_revoked_recipient(fresh_pki: Pki) -> None:
    fresh_pki.revoke(CPAM, AT)
    with pytest.raises(errors.Revoked):
        seal(
            LOT,
            fresh_pki.identity(PS),
            fresh_pki.certificate(CPAM),
            TrustStore.load(fresh_pki),
            AT + timedelta(hours=1),
        )


# -- modified SignedData, re-enveloped for us (anyone can encrypt to our public key) ---------


def _open_inner(pki: Pki, trust: TrustStore, inner: bytes) -> None:
    open_sealed(envelope(inner, pki.certificate(CPAM)), pki.identity(CPAM), trust, AT)


def test_content_modified(pki: Pki, trust: TrustStore) -> None:
    def change(signed: a_cms.SignedData) -> None:
        signed["encap_content_info"]["content"] = LOT.replace(b"PS751108622", b"PS751108623")

    with pytest.raises(errors.BadSignature):
        _open_inner(pki, trust, edit_signed(sign(LOT, pki.identity(PS)), change))


def test_zero_or_two_signers(pki: Pki, trust: TrustStore) -> None:
    der = sign(LOT, pki.identity(PS))

    def none(signed: a_cms.SignedData) -> None:
        signed["signer_infos"] = a_cms.SignerInfos([])

    def two(signed: a_cms.SignedData) -> None:
        first = signed["signer_infos"][0]
        signed["signer_infos"] = a_cms.SignerInfos([first, a_cms.SignerInfo.load(first.dump())])

    for edit in (none, two):
        with pytest.raises(errors.BadSignature, match="exactly one"):
            _open_inner(pki, trust, edit_signed(der, edit))


def test_detached_signature_refused(pki: Pki, trust: TrustStore) -> None:
    def detach(signed: a_cms.SignedData) -> None:
        signed["encap_content_info"] = a_cms.ContentInfo({"content_type": "data"})

    with pytest.raises(errors.Malformed, match="detached"):
        _open_inner(pki, trust, edit_signed(sign(LOT, pki.identity(PS)), detach))


def test_signed_attributes_checked(pki: Pki, trust: TrustStore) -> None:
    """Signed attributes as openssl or cryptography's default builder write them."""
    ps = pki.identity(PS)
    with_attrs = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(LOT)
        .add_signer(ps.cert, ps.key, hashes.SHA256())
        .add_certificate(ps.chain[0])
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    _open_inner(pki, trust, with_attrs)  # positive control

    def modify_attribute(signed: a_cms.SignedData) -> None:
        attrs = signed["signer_infos"][0]["signed_attrs"]
        for attr in attrs:
            if attr["type"].native == "signing_time":
                attr["values"] = a_cms.SetOfTime(
                    [a_cms.Time({"utc_time": T0 - timedelta(days=400)})]
                )

    def drop_digest(signed: a_cms.SignedData) -> None:
        info = signed["signer_infos"][0]
        info["signed_attrs"] = a_cms.CMSAttributes(
            [a for a in info["signed_attrs"] if a["type"].native != "message_digest"]
        )

    def modify_content(signed: a_cms.SignedData) -> None:
        signed["encap_content_info"]["content"] = LOT[:-1] + b"X"

    with pytest.raises(errors.BadSignature):
        _open_inner(pki, trust, edit_signed(with_attrs, modify_attribute))
    with pytest.raises(errors.Tampered, match="messageDigest"):
        _open_inner(pki, trust, edit_signed(with_attrs, drop_digest))
    with pytest.raises(errors.Tampered, match="content modified"):
        _open_inner(pki, trust, edit_signed(with_attrs, modify_content))


# -- the envelope -----------------------------------------------------------------------------


def test_ciphertext_bit_flips_all_refused_with_one_public_message(
    pki: Pki, trust: TrustStore
) -> None:
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    me = pki.identity(CPAM)
    rng = random.Random(7)
    offsets = sorted(rng.sample(range(len(sealed)), 64))
    codes: dict[str, int] = {}
    public: set[str] = set()
    for offset in offsets:
        flipped = bytearray(sealed)
        flipped[offset] ^= 1 << rng.randrange(8)
        with pytest.raises(errors.SealError) as exc:
            open_sealed(bytes(flipped), me, trust, AT)
        codes[exc.value.code] = codes.get(exc.value.code, 0) + 1
        if isinstance(exc.value, (errors.Undecryptable, errors.Malformed, errors.WrongRecipient)):
            public.add(exc.value.public_message)
    assert sum(codes.values()) == 64
    assert codes.get("undecryptable", 0) > 30, codes  # most bytes are ciphertext
    assert public == {errors.UNDECRYPTABLE}


def test_every_bit_of_the_envelope_header_and_trailer_matters(pki: Pki, trust: TrustStore) -> None:
    """Flip each bit of the structure around the ciphertext (versions, algorithms, nonce,
    recipient, tag): every variant is refused with a SealError, none opens."""
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    me = pki.identity(CPAM)
    ciphertext_at = sealed.index(b"\x80\x82")  # the [0] IMPLICIT encrypted content
    region = [*range(ciphertext_at + 4), *range(len(sealed) - 18, len(sealed))]
    for offset in region:
        for bit in range(8):
            flipped = bytearray(sealed)
            flipped[offset] ^= 1 << bit
            with pytest.raises(errors.SealError):
                open_sealed(bytes(flipped), me, trust, AT)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_open_raises_only_seal_errors(
    pki: Pki, trust: TrustStore, data: st.DataObject
) -> None:
    sealed, me = _sealed_sample(pki, trust)
    with contextlib.suppress(errors.SealError):
        open_sealed(data.draw(mutated(sealed)), me, trust, AT)


_SAMPLE: dict[str, tuple[bytes, Identity]] = {}


def _sealed_sample(pki: Pki, trust: TrustStore) -> tuple[bytes, Identity]:
    """One sealed file and the recipient's identity, loaded once (loading checks the key)."""
    if "sealed" not in _SAMPLE:
        me = pki.identity(CPAM)
        _SAMPLE["sealed"] = (seal(LOT[:512], pki.identity(PS), me.cert, trust, AT), me)
    return _SAMPLE["sealed"]


def test_truncated_files_are_malformed(pki: Pki, trust: TrustStore) -> None:
    sealed = seal(LOT, pki.identity(PS), pki.certificate(CPAM), trust, AT)
    for cut in (0, 1, 2, 10, len(sealed) // 2, len(sealed) - 1):
        with pytest.raises(errors.Malformed):
            open_sealed(sealed[:cut], pki.identity(CPAM), trust, AT)
    with pytest.raises(errors.Malformed, match="bytes after"):
        open_sealed(sealed + b"\x00", pki.identity(CPAM), trust, AT)


def test_der_guard_refuses_ber_and_oversize() -> None:
    with pytest.raises(errors.Malformed, match="indefinite"):
        check_der(bytes.fromhex("3080020101 0000".replace(" ", "")))
    with pytest.raises(errors.Malformed, match="nested too deeply"):
        check_der(_nested(50))
    check_der(bytes.fromhex("3003020101"))


def _nested(depth: int) -> bytes:
    der = b"\x05\x00"
    for _ in range(depth):
        der = (
            bytes([0x30, len(der)]) + der if len(der) < 128 else bytes([0x30, 0x81, len(der)]) + der
        )
    return der


def test_oversized_sealed_file_refused_before_parsing(pki: Pki) -> None:
    with pytest.raises(errors.Malformed, match="exceeds"):
        decrypt(b"\x30" * (MAX_SEALED_BYTES + 1), pki.identity(CPAM))


def test_legacy_cbc_pkcs1_envelope_is_opened_and_flagged(pki: Pki, trust: TrustStore) -> None:
    """What a partner using cryptography's own envelope builder sends."""
    inner = sign(LOT, pki.identity(PS))
    legacy = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(inner)
        .add_recipient(pki.certificate(CPAM))
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    opened = open_sealed(legacy, pki.identity(CPAM), trust, AT, kinds.declared_parties)
    assert opened.legacy and opened.content == LOT
    flipped = bytearray(legacy)
    flipped[-20] ^= 0x01  # inside the CBC ciphertext: padding or signature, never an oracle
    with pytest.raises(errors.SealError) as exc:
        open_sealed(bytes(flipped), pki.identity(CPAM), trust, AT)
    assert exc.value.public_message in (errors.UNDECRYPTABLE, "signature invalid")


def _both_readers(der: bytes, cert: object) -> None:
    """Where the readers of our own layout answer, the general (asn1crypto) readers answer
    the same: same envelope fields, same content, certificates and signer."""
    from noemie_sim.pki import cms

    with contextlib.suppress(errors.SealError):
        cms.check_der(der)
        own = cms._read_own_envelope(der, cert)  # type: ignore[arg-type]
        if own is not None:
            assert own == cms._read_envelope(der, cert)  # type: ignore[arg-type]
        signed = cms._read_own_signed_data(der)
        if signed is not None:
            assert signed == cms._read_signed_data(der)
        for oid_reader in (cms._content_type,):
            fast = oid_reader(der)
            assert fast is None or fast == str(a_cms.ContentInfo.load(der)["content_type"].native)


def test_our_own_layout_is_read_without_asn1crypto_and_read_the_same(pki: Pki) -> None:
    """seal() makes one layout; open reads it with a reader of that exact layout (the
    general one decides anything else): both give the same fields."""
    from noemie_sim.pki import cms

    me = pki.identity(CPAM)
    inner = sign(LOT, pki.identity(PS))
    outer = envelope(inner, me.cert)
    assert cms._read_own_envelope(outer, me.cert) is not None
    assert cms._read_own_signed_data(inner) is not None
    assert cms._read_own_envelope(outer, pki.identity(OC).cert) is None  # not for OC
    _both_readers(outer, me.cert)
    _both_readers(inner, me.cert)
    assert cms._content_type(inner) == "signed_data"
    assert cms._content_type(outer) == "authenticated_enveloped_data"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_our_layout_readers_agree_with_the_general_ones(pki: Pki, data: st.DataObject) -> None:
    me = pki.identity(CPAM)
    inner = sign(LOT[:300], pki.identity(PS))
    _both_readers(data.draw(mutated(envelope(inner, me.cert))), me.cert)
    _both_readers(data.draw(mutated(inner)), me.cert)
