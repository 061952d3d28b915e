"""Documents of the REST channel as the actors make and read them.

A document is a file's content in its JSON form (:mod:`noemie_sim.sim.norms.jsonform`: the
same records and fields as the fixed-width file, converted both ways without loss) signed by
its sender as a compact JWS (:mod:`noemie_sim.pki.jws`: PS256, the sender's chain in ``x5c``,
validated against our own root only). It is signed, not encrypted: on this channel the
confidentiality of a real deployment is TLS's, and the harness's webhooks run on loopback.

Reading one is two steps, so that a reader knows who signed a document whose content it then
refuses: :func:`open_seal` (SealError), then :func:`content_of` (FormatError; SenderMismatch
or WrongRecipient when the content declares other parties than the seal and the reader, as
the CMS seal binds them on the SFTP channel).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from noemie_sim.pki import jws
from noemie_sim.pki.errors import SenderMismatch, WrongRecipient
from noemie_sim.sim.norms import jsonform
from noemie_sim.sim.norms.kinds import declared_parties

from .base import Actor, Kernel

#: the name suffix of a REST document in the journal and the archive (a compact JWS)
SUFFIX = ".jws"


def sign_document(actor: Actor, content: bytes) -> bytes:
    """``content`` (a file of a known kind) as a JSON document signed by ``actor``."""
    payload = json.dumps(jsonform.to_json(content), ensure_ascii=False, separators=(",", ":"))
    return jws.sign(payload.encode("utf-8"), actor.identity).encode("ascii")


def open_seal(kernel: Kernel, token: bytes, at: datetime) -> jws.SignedDocument:
    """The document's seal checked at ``at`` (its signer's chain under our root, its
    signature); SealError otherwise."""
    return jws.open_signed(token, kernel.trust(), at)


def content_of(signed: jws.SignedDocument, reader: str | None) -> bytes:
    """The fixed-width content of an opened document, bound to its signer and ``reader``
    (None: any receiver). FormatError when the JSON is not a document of a known kind;
    SenderMismatch or WrongRecipient when it declares other parties."""
    content = jsonform.from_json(signed.json())
    sender, receiver = declared_parties(content)
    if sender != signed.signer:
        raise SenderMismatch(f"signed by {signed.signer} but declares sender {sender}")
    if reader is not None and receiver != reader:
        raise WrongRecipient(f"addressed to {receiver}, not to {reader}")
    return content


def addressee(token: bytes) -> str | None:
    """The receiver a document's content declares, read *without* checking its seal: only to
    route it to the party that then reads it in full; None when it cannot be read."""
    try:
        payload = token.decode("ascii").strip().split(".")[1]
        body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return declared_parties(jsonform.from_json(json.loads(body)))[1]
    except Exception:  # any failure only means "cannot route": the reader then says why
        return None
