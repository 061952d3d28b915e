"""Signed JSON documents (JWS, the REST channel's seal): the round trip, and every way a
document must be refused: another algorithm, a chain of the attacker's own, a revoked
signer, a changed payload or header, garbage."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noemie_sim.pki import errors, jws
from noemie_sim.pki.authority import KeyPool, Pki
from noemie_sim.pki.validation import TrustStore
from noemie_sim.sim.norms import jsonform, kinds

from .pki_helpers import CPAM, PS, T0

AT = T0 + timedelta(days=1)
PAYLOAD = json.dumps(jsonform.to_json(kinds.KINDS["decompte"].sample())).encode()


def _parts(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _header(token: str) -> dict[str, object]:
    head = _parts(token)[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


def test_a_signed_document_opens_with_its_signer(pki: Pki, trust: TrustStore) -> None:
    token = jws.sign(PAYLOAD, pki.identity(CPAM))
    header = _header(token)
    assert header["alg"] == "PS256" and header["kid"] == CPAM
    assert isinstance(header["x5c"], list) and len(header["x5c"]) == 2  # leaf and intermediate
    opened = jws.open_signed(token, trust, AT)
    assert opened.payload == PAYLOAD and opened.signer == CPAM
    assert opened.json() == json.loads(PAYLOAD)


def test_a_changed_payload_or_header_is_refused(pki: Pki, trust: TrustStore) -> None:
    token = jws.sign(PAYLOAD, pki.identity(CPAM))
    head, body, signature = _parts(token)
    other = _b64(PAYLOAD.replace(b'"decompte"', b'"decompte" ', 1))
    with pytest.raises(errors.BadSignature):
        jws.open_signed(f"{head}.{other}.{signature}", trust, AT)
    # the PS's chain swapped in: the CPAM's signature does not verify with the PS's key
    ps_header = _header(jws.sign(PAYLOAD, pki.identity(PS)))
    swapped = _b64(json.dumps({**_header(token), "x5c": ps_header["x5c"]}).encode())
    with pytest.raises(errors.BadSignature):
        jws.open_signed(f"{swapped}.{body}.{signature}", trust, AT)


def test_only_ps256_is_accepted(pki: Pki, trust: TrustStore) -> None:
    token = jws.sign(PAYLOAD, pki.identity(CPAM))
    header = _header(token)
    body = _parts(token)[1]
    # "none": no signature at all
    unsigned = _b64(json.dumps({**header, "alg": "none"}).encode())
    with pytest.raises(errors.WeakAlgorithm):
        jws.open_signed(f"{unsigned}.{body}.", trust, AT)
    # HS256 keyed with the signer's public key, which anybody has (algorithm confusion)
    public = (
        pki.certificate(CPAM)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    confused_head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    mac = hmac.HMAC(public, hashes.SHA256())
    mac.update(f"{confused_head}.{body}".encode())
    with pytest.raises(errors.WeakAlgorithm):
        jws.open_signed(f"{confused_head}.{body}.{_b64(mac.finalize())}", trust, AT)
    # (joserfc itself refuses to make an HMAC key of a public key: the forgery is by hand)


def test_a_chain_of_the_attackers_own_is_refused(
    pki: Pki, trust: TrustStore, tmp_path_factory: pytest.TempPathFactory, noemie_keys: KeyPool
) -> None:
    # another PKI with a party of the same id: a perfect signature, a root we do not trust
    other = Pki.create(tmp_path_factory.mktemp("attacker") / "pki", T0, pool=noemie_keys)
    other.issue_many([("cpam", CPAM)], T0, pool=noemie_keys)
    token = jws.sign(PAYLOAD, other.identity(CPAM))
    with pytest.raises(errors.CertificateError):
        jws.open_signed(token, trust, AT)
    # and with the attacker's root put in the chain: still not our root
    head = _header(token)
    root = base64.b64encode(other.root().public_bytes(serialization.Encoding.DER)).decode()
    assert isinstance(head["x5c"], list)
    with_root = _b64(json.dumps({**head, "x5c": [*head["x5c"], root]}).encode())
    with pytest.raises(errors.CertificateError):
        jws.open_signed(f"{with_root}.{_parts(token)[1]}.{_parts(token)[2]}", trust, AT)


def test_a_revoked_signer_is_refused_from_its_revocation(fresh_pki: Pki) -> None:
    token = jws.sign(PAYLOAD, fresh_pki.identity(CPAM))
    when = AT + timedelta(hours=1)
    fresh_pki.revoke(CPAM, when)
    trust = TrustStore.load(fresh_pki)
    assert jws.open_signed(token, trust, when - timedelta(minutes=5)).signer == CPAM
    with pytest.raises(errors.Revoked):
        jws.open_signed(token, trust, when + timedelta(minutes=5))


def test_critical_parameters_and_missing_chains_are_refused(pki: Pki, trust: TrustStore) -> None:
    token = jws.sign(PAYLOAD, pki.identity(CPAM))
    _head, body, signature = _parts(token)
    header = _header(token)
    for changed in ({**header, "crit": ["exp"], "exp": 1}, {k: v for k, v in header.items()
                                                             if k != "x5c"},
                    {**header, "x5c": ["not base64!"]}, {**header, "x5c": "one"}):  # fmt: skip
        with pytest.raises(errors.Malformed):
            jws.open_signed(f"{_b64(json.dumps(changed).encode())}.{body}.{signature}", trust, AT)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(max_size=300) | st.text(max_size=300))
def test_any_input_opens_or_raises_a_seal_error(trust: TrustStore, garbage: bytes | str) -> None:
    try:
        jws.open_signed(garbage, trust, AT)
    except errors.SealError:
        return
    raise AssertionError("garbage opened")
