"""Reject, signalement and anomaly codes, each with its category and its source.

AMO codes use the "NNNN NNN" form of CPAM memos (norms.md §4.5): the six documented there,
and the project's own where the public list stops (labelled ``source="noemie-sim"``). OC reject
codes (the FNMF list is not public, norms.md §5) and ARL anomaly codes (unknown publicly,
norms.md §3) are all the project's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from noemie_sim.sim.norms.errors import Anomaly

from .text import ascii_upper


class Category(Enum):
    TECHNIQUE = "technique"
    ADMINISTRATIF = "administratif"
    MEDICAL = "médical"


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    category: Category
    source: str = "noemie-sim"

    @property
    def short_label(self) -> str:
        """The label in upper-case ASCII, at most 60 characters, for the 290 and R1 records."""
        return ascii_upper(self.label, 60)


CPAM_MEMO = "CPAM memo (norms.md §4.5)"
T, A, M = Category.TECHNIQUE, Category.ADMINISTRATIF, Category.MEDICAL

#: AMO rejects and signalements returned to the PS in NOEMIE (290 NOP-LRS).
AMO = {
    c.code: c
    for c in (
        Code("0250 050", "Assuré absent du référentiel de la caisse", A, CPAM_MEMO),
        Code("0317 051", "Incompatibilité nature d'assurance", A, CPAM_MEMO),
        Code(
            "0450 072",
            "Exonération de la carte Vitale absente du fichier de la caisse",
            A,
            CPAM_MEMO,
        ),
        Code("0460 053", "Établissement prescripteur inconnu au fichier national", A, CPAM_MEMO),
        Code("0470 049", "Prescription interdite à cette date", M, CPAM_MEMO),
        Code("2900 005", "Facture déjà payée", A, CPAM_MEMO),
        Code("0250 060", "Droits de l'assuré fermés à la date des soins", A),
        Code("0318 010", "Acte incompatible avec la spécialité de l'exécutant", M),
        Code("0318 020", "Code acte inconnu de la nomenclature", T),
        Code("0318 030", "Cotation de biologie différente du détail des analyses NABM", T),
        Code("0318 040", "Prix supérieur au prix limite de vente (panier 100 % santé)", T),
        Code("0318 050", "Acte incompatible avec l'âge du bénéficiaire", M),
        Code("0318 060", "Codage CCAM absent ou incohérent avec l'acte (code, dent)", T),
        Code("0120 001", "Date des soins postérieure à la réception", T),
        Code("0900 001", "Participation forfaitaire déduite", A),
    )
}

#: ARL anomalies: why a file or a lot is refused (ARL-ANO records). A file that cannot be
#: opened gets the code of the exact reason (one per pki error code, :data:`SEAL_TO_ARL`).
ARL = {
    c.code: c
    for c in (
        Code("0001 001", "Format de fichier non conforme", T),
        Code("0001 002", "Enregistrement non conforme", T),
        Code("0001 003", "Total ou compteur de contrôle erroné", T),
        Code("0001 004", "Clé de contrôle erronée", T),
        Code("0001 005", "Fichier trop volumineux: refusé sans être lu", T),
        Code("0002 001", "Fichier illisible: déchiffrement impossible (clé du destinataire)", T),
        Code("0002 002", "Signature invalide ou contenu modifié", T),
        Code("0002 003", "Certificat du signataire révoqué", T),
        Code("0002 004", "Signataire différent de l'émetteur déclaré", T),
        Code("0002 005", "Fichier adressé à un autre destinataire", T),
        Code("0002 006", "Fichier non scellé: ni signé ni chiffré", T),
        Code("0002 007", "Fichier chiffré mais non signé", T),
        Code("0002 008", "Fichier signé mais non chiffré", T),
        Code("0002 009", "Structure CMS invalide ou fichier tronqué", T),
        Code("0002 010", "Algorithme ou taille de clé non accepté", T),
        Code("0002 011", "Certificat du signataire expiré", T),
        Code("0002 012", "Certificat du signataire pas encore valide", T),
        Code("0002 013", "Aucune liste de révocation valide pour le certificat du signataire", T),
        Code("0002 014", "Certificat du signataire émis par une autorité inconnue", T),
        Code("0002 015", "Certificat du signataire non autorisé pour cet usage", T),
        Code("0002 016", "Certificat du signataire refusé", T),
        Code("0003 001", "Lot déjà reçu", A),
        Code("0003 002", "Lot transmis par avance: dates de soins futures", A),
    )
}

#: OC rejects of a décompte (OCR-REJ records) or of a whole file.
OC = {
    c.code: c
    for c in (
        Code("BI01", "Bénéficiaire inconnu", A),
        Code("CR01", "Contrat résilié ou garantie échue", A),
        Code("DI01", "Données incohérentes", T),
        Code("FN01", "Format non conforme", T),
        Code("DB01", "Décompte déjà reçu (doublon)", T),
    )
}

#: Which ARL anomaly a refused seal produces (pki error code -> ARL code).
SEAL_TO_ARL = {
    "not-cms": "0002 006",
    "not-signed": "0002 007",
    "not-encrypted": "0002 008",
    "malformed": "0002 009",
    "undecryptable": "0002 001",
    "wrong-recipient": "0002 005",
    "bad-signature": "0002 002",
    "tampered": "0002 002",
    "weak-algorithm": "0002 010",
    "sender-mismatch": "0002 004",
    "revoked": "0002 003",
    "expired": "0002 011",
    "not-yet-valid": "0002 012",
    "no-valid-crl": "0002 013",
    "unknown-issuer": "0002 014",
    "wrong-usage": "0002 015",
}
#: Any other certificate failure maps to this ARL code.
CERTIFICATE_ARL = "0002 016"


def arl_for_seal_error(code: str) -> Code:
    """The ARL anomaly for a pki error code."""
    return ARL[SEAL_TO_ARL.get(code, CERTIFICATE_ARL)]


def arl_for_anomaly(anomaly: Anomaly) -> Code:
    """The ARL anomaly for a format anomaly of a received B2 file: a wrong key, a wrong total
    or count, a wrong record, or (no record) a file that is not a B2 file at all."""
    name = anomaly.field
    if anomaly.record == 0:
        return ARL["0001 001"]
    if name.endswith("_key") or "Luhn" in anomaly.message:
        return ARL["0001 004"]
    if name.startswith(("total", "record_count", "invoice_count", "lot_count", "line_count")):
        return ARL["0001 003"]
    return ARL["0001 002"]
