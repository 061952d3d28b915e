"""The PKI folder and certificate validation at simulated time: positive controls and the
negative matrix of the issue, each case refused with its own error code."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from noemie_sim.pki import errors
from noemie_sim.pki.authority import SECTORS, KeyPool, Pki, party_id
from noemie_sim.pki.errors import PkiError
from noemie_sim.pki.validation import Purpose, TrustStore, validate

from .pki_helpers import (
    CPAM,
    EMPLOYER,
    OC,
    PARTIES,
    PS,
    PS2,
    T0,
    certificate,
    key_usage,
    name,
    root_ca,
    sector_ca,
)

AT = T0 + timedelta(days=1)


@pytest.fixture(scope="module")
def spare_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_folder_is_the_documented_contract(pki: Pki) -> None:
    root = pki.folder
    for path in [
        "root/cert.pem",
        "root/crl.pem",
        *(f"ca/{s}/{f}" for s in SECTORS for f in ("cert.pem", "crl.pem")),
    ]:
        assert (root / path).is_file(), path
    for _role, ident in PARTIES:
        for f in ("key.pem", "cert.pem", "chain.pem"):
            assert (root / "parties" / ident / f).is_file()
        mode = stat.S_IMODE(os.stat(root / "parties" / ident / "key.pem").st_mode)
        assert mode == 0o600, oct(mode)
    for key in [root / "root" / "key.pem", *(root / "ca" / s / "key.pem" for s in SECTORS)]:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_certificates_carry_the_party_and_a_24_month_life(pki: Pki) -> None:
    cert = pki.certificate(PS)
    assert party_id(cert) == PS
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=730)
    assert "AC Racine Santé (test)" in pki.root().subject.rfc4514_string()
    assert cert.issuer == sector_ca(pki, "ps")[0].subject
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment


@pytest.mark.parametrize(("role", "ident"), PARTIES)
@pytest.mark.parametrize("purpose", list(Purpose))
def test_positive_controls(
    pki: Pki, trust: TrustStore, role: str, ident: str, purpose: Purpose
) -> None:
    chain = validate(pki.certificate(ident), trust, AT, purpose)
    assert [party_id(chain[0]), chain[-1]] == [ident, pki.root()]


def test_expired_and_not_yet_valid_leaf(pki: Pki, trust: TrustStore) -> None:
    cert = pki.certificate(PS)
    with pytest.raises(errors.Expired):
        validate(cert, trust, T0 + timedelta(days=731), Purpose.SIGN)
    with pytest.raises(errors.NotYetValid):
        validate(cert, trust, T0 - timedelta(hours=1), Purpose.SIGN)


def test_expired_intermediate(pki: Pki, trust: TrustStore, spare_key: rsa.RSAPrivateKey) -> None:
    root, root_key = root_ca(pki)
    short_ca = certificate(
        name("AC courte"),
        spare_key.public_key(),
        root.subject,
        root_key,
        start=T0 - timedelta(days=10),
        days=20,
        ca=True,
    )
    leaf = certificate(name(PS), spare_key.public_key(), short_ca.subject, spare_key, days=365)
    with pytest.raises(errors.Expired):
        validate(leaf, trust, T0 + timedelta(days=15), Purpose.SIGN, untrusted=[short_ca])


def test_unknown_root_missing_intermediate_and_anchor_from_message(
    pki: Pki, trust: TrustStore, spare_key: rsa.RSAPrivateKey
) -> None:
    rogue_root = certificate(
        name("AC Racine Santé (test)"),
        spare_key.public_key(),
        name("AC Racine Santé (test)"),
        spare_key,
        ca=True,
        start=T0 - timedelta(days=1),
    )
    rogue_leaf = certificate(name(PS), spare_key.public_key(), rogue_root.subject, spare_key)
    with pytest.raises(errors.UnknownIssuer):  # a trust anchor shipped inside the message
        validate(rogue_leaf, trust, AT, Purpose.SIGN, untrusted=[rogue_root])
    root, root_key = root_ca(pki)
    hidden_ca = certificate(
        name("AC cachee"),
        spare_key.public_key(),
        root.subject,
        root_key,
        start=T0 - timedelta(days=1),
        ca=True,
    )
    leaf = certificate(name(PS), spare_key.public_key(), hidden_ca.subject, spare_key)
    with pytest.raises(errors.UnknownIssuer):  # intermediate not given
        validate(leaf, trust, AT, Purpose.SIGN)


def test_leaf_used_as_ca(pki: Pki, trust: TrustStore, spare_key: rsa.RSAPrivateKey) -> None:
    ps = pki.identity(PS)
    child = certificate(name(PS2), spare_key.public_key(), ps.cert.subject, ps.key)
    with pytest.raises(errors.UnknownIssuer):
        validate(child, trust, AT, Purpose.SIGN, untrusted=[ps.cert])


def test_wrong_eku_and_missing_key_usage(
    pki: Pki, trust: TrustStore, spare_key: rsa.RSAPrivateKey
) -> None:
    ca, ca_key = sector_ca(pki, "ps")
    tls_only = certificate(
        name(PS), spare_key.public_key(), ca.subject, ca_key, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    with pytest.raises(errors.WrongUsage):
        validate(tls_only, trust, AT, Purpose.SIGN)
    encrypt_only = certificate(
        name(PS), spare_key.public_key(), ca.subject, ca_key, usage=key_usage(key_encipherment=True)
    )
    with pytest.raises(errors.WrongUsage):
        validate(encrypt_only, trust, AT, Purpose.SIGN)
    sign_only = certificate(
        name(PS),
        spare_key.public_key(),
        ca.subject,
        ca_key,
        usage=key_usage(digital_signature=True),
    )
    with pytest.raises(errors.WrongUsage):
        validate(sign_only, trust, AT, Purpose.ENCRYPT)


def test_weak_key_and_weak_hash(pki: Pki, trust: TrustStore) -> None:
    ca, ca_key = sector_ca(pki, "ps")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(errors.WeakAlgorithm):
        validate(
            certificate(name(PS), small.public_key(), ca.subject, ca_key), trust, AT, Purpose.SIGN
        )


def test_sha1_signed_certificate_is_weak(pki: Pki, trust: TrustStore, tmp_path: Path) -> None:
    """cryptography refuses to sign with SHA-1, so the forged certificate comes from openssl."""
    folder = pki.folder / "ca" / "ps"
    csr, out = tmp_path / "x.csr", tmp_path / "x.pem"
    run = [
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(pki.folder / "parties" / PS / "key.pem"),
            "-subj",
            f"/CN={PS}",
            "-out",
            str(csr),
        ],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(folder / "cert.pem"),
            "-CAkey",
            str(folder / "key.pem"),
            "-sha1",
            "-days",
            "30",
            "-set_serial",
            "4242",
            "-out",
            str(out),
        ],
    ]
    for command in run:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    with pytest.raises(errors.WeakAlgorithm):
        validate(x509.load_pem_x509_certificate(out.read_bytes()), trust, AT, Purpose.SIGN)


def test_revoked_leaf_from_its_revocation_time(fresh_pki: Pki) -> None:
    when = T0 + timedelta(days=3)
    fresh_pki.revoke(PS, when)
    trust = TrustStore.load(fresh_pki)
    cert = fresh_pki.certificate(PS)
    validate(cert, trust, when - timedelta(minutes=1), Purpose.SIGN)  # the earlier CRL applies
    with pytest.raises(errors.Revoked):
        validate(cert, trust, when + timedelta(minutes=1), Purpose.SIGN)
    validate(fresh_pki.certificate(PS2), trust, when + timedelta(minutes=1), Purpose.SIGN)


def test_revoked_intermediate(fresh_pki: Pki) -> None:
    when = T0 + timedelta(days=2)
    fresh_pki.revoke_ca("employer", when)
    trust = TrustStore.load(fresh_pki)
    with pytest.raises(errors.Revoked):
        validate(fresh_pki.certificate(EMPLOYER), trust, when + timedelta(hours=1), Purpose.SIGN)
    validate(fresh_pki.certificate(OC), trust, when + timedelta(hours=1), Purpose.SIGN)


def test_stale_forged_or_missing_crl_fails_closed(
    pki: Pki, trust: TrustStore, spare_key: rsa.RSAPrivateKey
) -> None:
    cert = pki.certificate(CPAM)
    with pytest.raises(errors.NoValidCrl):  # every CRL is past its nextUpdate (90 days)
        validate(cert, trust, T0 + timedelta(days=120), Purpose.SIGN)
    ca, _ = sector_ca(pki, "cpam")
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=30))
        .add_extension(x509.CRLNumber(99), critical=False)
        .sign(spare_key, hashes.SHA256())
    )
    others = tuple(c for c in trust.crls if c.issuer != ca.subject)
    with pytest.raises(errors.NoValidCrl):
        validate(cert, replace(trust, crls=(*others, forged)), AT, Purpose.SIGN)
    with pytest.raises(errors.NoValidCrl):
        validate(cert, replace(trust, crls=()), AT, Purpose.SIGN)


def test_crls_published_later_extend_validity(fresh_pki: Pki) -> None:
    later = T0 + timedelta(days=120)
    fresh_pki.publish_crls(later)
    validate(fresh_pki.certificate(CPAM), TrustStore.load(fresh_pki), later, Purpose.SIGN)


def test_renewal_gives_a_new_key_and_keeps_the_old_certificate_valid(fresh_pki: Pki) -> None:
    old = fresh_pki.certificate(PS)
    when = T0 + timedelta(days=700)
    fresh_pki.publish_crls(when)
    new = fresh_pki.renew(PS, when)
    assert new.public_key().public_numbers() != old.public_key().public_numbers()  # type: ignore[union-attr]
    assert new.not_valid_after_utc == when + timedelta(days=730)
    trust = TrustStore.load(fresh_pki)
    validate(new, trust, when + timedelta(days=1), Purpose.SIGN)
    validate(old, trust, when + timedelta(days=1), Purpose.SIGN)
    assert (fresh_pki.folder / "parties" / PS / "previous" / f"{old.serial_number:x}.pem").is_file()


def test_pki_errors_are_clear(tmp_path: object, pki: Pki) -> None:
    with pytest.raises(PkiError, match="not a PKI folder"):
        Pki(pki.folder / "parties")
    with pytest.raises(PkiError, match="no party"):
        pki.certificate("123")
    with pytest.raises(PkiError, match="unknown role"):
        pki.issue("nurse", "123", T0)
    with pytest.raises(PkiError, match="already holds"):
        Pki.create(pki.folder, T0)


def test_key_pool_reuses_keys_across_pkis(tmp_path: Path) -> None:
    pool = KeyPool(tmp_path / "pool")
    first = Pki.create(tmp_path / "a", T0, pool=pool)
    first.issue_many([("ps", PS), ("cpam", CPAM)], T0, pool=pool)
    assert len(list((tmp_path / "pool").glob("key-*.pem"))) == 1 + len(SECTORS) + 2
    for path in (tmp_path / "pool").iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = Pki.create(tmp_path / "b", T0, pool=pool)
    second.issue_many([("ps", PS), ("cpam", CPAM)], T0, pool=pool)
    assert second.certificate(PS).public_key() == first.certificate(PS).public_key()
    assert second.root() != first.root()  # same keys, distinct certificates
    validate(second.certificate(PS), TrustStore.load(second), AT, Purpose.SIGN)


def test_processes_sharing_a_key_pool_make_each_key_once(tmp_path: Path) -> None:
    """Two processes take keys from one empty pool at once: the first to hold its lock makes
    them, the other takes the same ones; the pool holds each key once."""
    take = (
        "import sys; from noemie_sim.pki.authority import KeyPool; "
        "keys = KeyPool(sys.argv[1]).take(int(sys.argv[2])); "
        "print(*(k.public_key().public_numbers().n % 10**12 for k in keys))"
    )
    commands = [[sys.executable, "-c", take, str(tmp_path / "pool"), "6"] for _ in range(2)]
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate()[0].split() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert outputs[0] == outputs[1] and len(set(outputs[0])) == 6
    assert len(list((tmp_path / "pool").glob("key-*.pem"))) == 6


def test_a_remembered_validation_holds_only_while_its_inputs_do(
    fresh_pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate remembers a success for the span where the chain's periods, the CRLs in force
    and their revocation dates stay the same: asked inside it, the chain path is not walked
    again; asked after a newer CRL starts, after a CRL ends or after a certificate expires,
    it decides afresh."""
    from noemie_sim.pki import validation

    cert = fresh_pki.certificate(PS)
    before = TrustStore.load(fresh_pki)
    revoked_at = T0 + timedelta(days=10)
    fresh_pki.revoke(PS, revoked_at)
    newer = [c for c in TrustStore.load(fresh_pki).crls if c not in before.crls]
    assert len(newer) == 1
    both = TrustStore(before.root, before.intermediates, (*before.crls, *newer))
    walks: list[object] = []
    walk = validation._validate

    def counted(*args: Any) -> list[x509.Certificate]:
        walks.append(args[2])
        return walk(*args)

    monkeypatch.setattr(validation, "_validate", counted)
    validate(cert, both, AT, Purpose.SIGN)
    validate(cert, both, AT + timedelta(days=5), Purpose.SIGN)  # inside the span
    validate(cert, both, revoked_at - timedelta(microseconds=1), Purpose.SIGN)
    assert len(walks) == 1
    with pytest.raises(errors.Revoked):  # the newer CRL is in force from its lastUpdate
        validate(cert, both, revoked_at, Purpose.SIGN)
    with pytest.raises(errors.NoValidCrl):  # past every CRL's nextUpdate
        validate(cert, both, T0 + timedelta(days=200), Purpose.SIGN)
    assert validate(cert, both, AT, Purpose.SIGN)[0] == cert and len(walks) == 3
    # another purpose, another store made by replace(): decided afresh
    validate(cert, both, AT, Purpose.LOGIN)
    validate(cert, replace(both), AT, Purpose.SIGN)
    assert len(walks) == 5
