"""Acts a PS may bill, with their tariffs at each date, and the specialties that may bill them.

Tariffs are looked up at the care date (:func:`price_at`). Sources (norms.md §8.3): G/GS
25 € (1/5/2017) → 26.50 € (1/11/2023, règlement arbitral) → 30 € (22/12/2024); APC 56.50 € →
60 € (22/12/2024); COE 47.50 € → 54 € (22/12/2024) → 60 € (1/7/2025); IFD 2.50 € → 2.75 €
(avenant 10, 28/08/2023); MD 10 €, AMI 3.15 € — [PRESS] with several sources. Where the start
of a former tariff is not known it applies to every earlier date; where no former tariff is
known (VG, MD, the CCAM act) the oldest known one applies before its date: both are project
conventions, said as such in docs/norms.md.
AMI 3 € → 3.15 € (15/4/2009); MD 10 € since the visit reform of 2002; AMK 2.15 € → 2.21 €
(22/2/2024, avenant 7), the ameli table crawled 24/09/2024 (kiné séance 16.13 € = AMK 7.5)
being out of date then — [PRESS], docs/rules.md gives each source. The CCAM tariff (DEQP003
ECG 14.52 €) is a modelling value, labelled as such.
Specialty codes are those of B2 Type 4 pos 68 / NOEMIE EXE-SPE (annexe 17) used by rule R1
(norms.md §2.5): 01 médecine générale, 24 infirmier, 26 masseur-kinésithérapeute; 03
(cardiologie) is a specialist for APC and the ECG. 21 for the sage-femme, 30 for the
laboratoire de biologie médicale, 50 for the pharmacie d'officine, 54 for a taxi, 55 for an
entreprise de transports sanitaires, 60 for an audioprothésiste, 61 for an opticien-lunetier,
19 for a chirurgien-dentiste and 90 for a clinique are project conventions (annexe 17 is not
public;
the n° AM catégories 5 "sage-femme", 4 "chirurgien-dentiste", 3 "laboratoire", 2 "fournisseur
(pharmacie...)" and 0 "établissement" are [DOC], norms.md §7.2).

A clinique bills a stay on Type 3 lines (:attr:`Act.hospital`): the séjour (GHS, a modelling
tariff) and the forfait journalier of each day (20 € from 1/1/2018, 18 € before [DOC]).

A chirurgien-dentiste bills a carie's restoration (SDE) or a crown, of the 100 % santé basket
(DC1, at most its honoraire limite de facturation: :attr:`Act.rac_zero_price`), of the panier
maîtrisé (DC3, at most its own: :attr:`Act.price_limit`) or at a free price (DC2), coded in
CCAM with its tooth (:attr:`Act.tooth_places`); docs/rules.md gives the sources.

An audioprothésiste bills an aide auditive per ear, an opticien-lunetier a frame and its lenses
(:attr:`Act.rac_zero_price`, :attr:`Act.responsible_ceiling`: the 100 % santé basket and the
contrat responsable's ceiling; docs/rules.md gives the sources).

A laboratoire bills the key letter B (0.27 €) on one Type 4 line per visit, its coefficient
the sum of the B of the NABM analyses (:data:`NABM`) its Type 4B detail lists.

Pharmacies bill drugs under the prestation codes of the SNDS (documentation-snds ER_PHA_F
[DOC]): PH1 pharmacie 100 %, PH7 65 %, PH4 30 %, PH2 15 %; the rate belongs to the drug
(:attr:`Act.rate`). A drug line is a Type 4 line with that code, the price of one box as its
unit price and the number of boxes as its quantity (a convention: the CIP13 of the drug is in
detail records that are not public). The drugs and their prices (:data:`DRUGS`) are modelling
values with fictitious CIP13 codes; the honoraires de dispensation are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from .text import half_up


class Profession(Enum):
    """Who bills: its n° AM catégorie (:attr:`category`, norms.md §7.2) and, through
    ``rules.rate_for``, its default AMO rate."""

    ETABLISSEMENT = "établissement"  # a clinique: stays on Type 3 lines, 80 %, no PF/franchise
    MEDECIN = "médecin"
    PHARMACIEN = "pharmacien"
    TAXI = "taxi"  # a taxi conventionné: 65 %, a franchise per trip, no PF
    AUDIOPROTHESISTE = "audioprothésiste"  # aides auditives (LPP): 60 %, no PF, no franchise
    #: an entreprise de transports sanitaires (VSL, ambulance): as a taxi, 65 %, a franchise
    #: per trip, no PF
    TRANSPORT_SANITAIRE = "transport sanitaire"
    LABORATOIRE = "laboratoire"  # biologie médicale: 60 %, PF on its acts, no franchise
    SAGE_FEMME = "sage-femme"  # a medical profession: 70 %, no PF, no franchise, direct access
    #: soins and prothèses dentaires: 60 % (70 % before 15/10/2023), no PF, no franchise
    CHIRURGIEN_DENTISTE = "chirurgien-dentiste"
    #: optique médicale (frames and lenses of the LPP): 60 %, no PF, no franchise
    OPTICIEN = "opticien-lunetier"
    INFIRMIER = "infirmier"
    KINE = "masseur-kinésithérapeute"

    @property
    def category(self) -> int:
        """The n° AM catégorie (the third digit of the n° AM)."""
        return _CATEGORIES[self]


#: n° AM catégories (norms.md §7.2 [DOC]): 2 is the fournisseur's (pharmacie, transport, taxi;
#: an audioprothésiste, a fournisseur of LPP devices, is taken as one: a convention)
_CATEGORIES = {
    Profession.ETABLISSEMENT: 0,
    Profession.MEDECIN: 1,
    Profession.PHARMACIEN: 2,
    Profession.TAXI: 2,
    Profession.AUDIOPROTHESISTE: 2,
    Profession.OPTICIEN: 2,
    Profession.TRANSPORT_SANITAIRE: 2,
    Profession.LABORATOIRE: 3,
    Profession.CHIRURGIEN_DENTISTE: 4,
    Profession.SAGE_FEMME: 5,
    Profession.INFIRMIER: 6,
    Profession.KINE: 7,
}


@dataclass(frozen=True)
class Specialty:
    code: str  # B2 Type 4 pos 68
    label: str
    profession: Profession
    kind: str  # the name scenario files use


SPECIALTIES = {
    s.code: s
    for s in (
        Specialty("01", "Médecine générale", Profession.MEDECIN, "medecin-generaliste"),
        Specialty("03", "Cardiologie", Profession.MEDECIN, "cardiologue"),
        Specialty("21", "Sage-femme", Profession.SAGE_FEMME, "sage-femme"),
        Specialty("30", "Laboratoire de biologie médicale", Profession.LABORATOIRE, "laboratoire"),
        Specialty("24", "Infirmier", Profession.INFIRMIER, "infirmier"),
        Specialty("26", "Masseur-kinésithérapeute", Profession.KINE, "kinesitherapeute"),
        Specialty("50", "Pharmacie d'officine", Profession.PHARMACIEN, "pharmacie"),
        Specialty("90", "Clinique (établissement privé)", Profession.ETABLISSEMENT, "clinique"),
        Specialty("54", "Taxi conventionné", Profession.TAXI, "taxi"),
        Specialty("60", "Audioprothésiste", Profession.AUDIOPROTHESISTE, "audioprothesiste"),
        Specialty("61", "Opticien-lunetier", Profession.OPTICIEN, "opticien"),
        Specialty(
            "19", "Chirurgien-dentiste", Profession.CHIRURGIEN_DENTISTE, "chirurgien-dentiste"
        ),
        Specialty(
            "55",
            "Transports sanitaires (VSL, ambulance)",
            Profession.TRANSPORT_SANITAIRE,
            "transport-sanitaire",
        ),
    )
}
SPECIALTY_BY_KIND = {s.kind: s for s in SPECIALTIES.values()}


@dataclass(frozen=True)
class Act:
    """An NGAP key letter (value per coefficient unit) or a CCAM act (fixed tariff).

    ``tariff`` is in cents for one unit of coefficient 1.00; ``default_coefficient`` in
    hundredths. ``source`` is "[PRESS]", "[DOC]" or "model" (a modelling value).
    """

    code: str
    label: str
    tariff: int
    specialties: frozenset[str]
    default_coefficient: int = 100
    ccam: str | None = None
    participation_forfaitaire: bool = False  # médecin consultations and acts (norms.md §8.2)
    franchise: bool = False  # paramedical acts (norms.md §8.2)
    since: date = date(2024, 12, 22)
    source: str = "[PRESS]"
    #: former tariffs, oldest first: (first day, or None when unknown; cents). ``tariff``
    #: applies from ``since``.
    history: tuple[tuple[date | None, int], ...] = ()
    #: the AMO rate of a drug class (PH1 100, PH7 65, PH4 30, PH2 15); None: the rate of the
    #: profession that bills the act
    rate: int | None = None
    #: priced per product (a drug: the price of one box, given when billed; ``tariff`` is 0),
    #: with a franchise per box rather than per act
    per_box: bool = False
    #: an établissement's line of a stay, billed on a Type 3 (not a Type 4)
    hospital: bool = False
    #: a trip's forfait: the franchise on transport, per trip, with its own daily cap
    transport: bool = False
    #: a device of the 100 % santé basket: its prix limite de vente (cents, per unit), up to
    #: which a contrat responsable (and the C2S) pays what the AMO leaves (reste à charge 0)
    rac_zero_price: int | None = None
    #: the most it may be billed a unit without the basket's reste à charge 0 (cents): a
    #: prothèse dentaire of the panier maîtrisé, whose honoraire limite a mutuelle covers as
    #: its grid says
    price_limit: int | None = None
    #: the most a contrat responsable pays of a device outside that basket, AMO part
    #: included (cents, per unit)
    responsible_ceiling: int | None = None
    #: the ages (in years on the care date, from and below) of the patients it is for
    ages: tuple[int, int] = (0, 200)
    #: the teeth a CCAM dental act is for, by their place in a quadrant (the second digit of
    #: ISO 3950: 1-2 incisors, 3 canine, 4-5 premolars, 6-8 molars); () for any other act
    tooth_places: tuple[int, ...] = ()

    def tariff_at(self, day: date) -> int:
        """The tariff in force on ``day`` (conventions for unknown history: module docstring)."""
        return _in_force(day, self.since, self.tariff, self.history)

    def base(
        self,
        coefficient: int | None = None,
        quantity: int = 1,
        day: date | None = None,
        unit_price: int | None = None,
    ) -> int:
        """Base de remboursement in cents: the tariff (on ``day``, or the current one) x
        coefficient x quantity; for an act priced per box, ``unit_price`` (the box's price)
        x quantity (ValueError when it is not given)."""
        if self.per_box:
            if unit_price is None:
                raise ValueError(f"{self.code} is priced per box: its unit price is needed")
            return unit_price * quantity
        coef = self.default_coefficient if coefficient is None else coefficient
        tariff = self.tariff if day is None else self.tariff_at(day)
        return half_up(tariff * coef * quantity, 100)


def _in_force(
    day: date, since: date, current: int, history: tuple[tuple[date | None, int], ...]
) -> int:
    """The value in force on ``day`` of one that is ``current`` from ``since`` and was each
    of ``history`` (oldest first, from its day, None when unknown) before: a former value
    whose start is unknown applies to every earlier day, and with no former value known the
    oldest known one does (module docstring)."""
    if day >= since:
        return current
    for start, value in reversed(history):
        if start is None or day >= start:
            return value
    return history[0][1] if history else current


_DOCTORS = frozenset({"01", "03"})
#: the age from which an aide auditive is an adult's (its base 400 €, its prix limite 950 €)
HEARING_AID_ADULT = 20
#: G and GS: C + MMG since 1/5/2017 (norms.md §8.3)
_G_HISTORY: tuple[tuple[date | None, int], ...] = (
    (date(2017, 5, 1), 2500),
    (date(2023, 11, 1), 2650),
)
ACTS = {
    a.code: a
    for a in (
        Act(
            "G",
            "Consultation médecine générale",
            3000,
            frozenset({"01"}),
            participation_forfaitaire=True,
            history=_G_HISTORY,
        ),
        Act(
            "GS",
            "Consultation spécialiste en médecine générale",
            3000,
            frozenset({"01"}),
            participation_forfaitaire=True,
            history=_G_HISTORY,
        ),
        Act(
            "VG",
            "Visite médecine générale",
            3000,
            frozenset({"01"}),
            participation_forfaitaire=True,
            # the visit followed the consultation: V + MMG 25 €, 26.50 € under the règlement
            # arbitral, 30 € with G from 22/12/2024 (convention 2024) [PRESS]
            history=_G_HISTORY,
        ),
        Act(
            "MD",
            "Majoration de déplacement",
            1000,
            frozenset({"01"}),
            # created at 10 € by the visit reform of the accord of 5/6/2002, unchanged since
            since=date(2002, 10, 1),
        ),
        # a sage-femme's consultation: C (23 €) and the majoration sage-femme MSF, 2 € from the
        # avenant of 29/5/2018 (C + MSF = 25 € in 2019), 3.50 € from 22/2/2024 (avenant 7:
        # C + MSF = 26.50 €)
        Act("C", "Consultation sage-femme", 2300, frozenset({"21"})),
        Act(
            "MSF",
            "Majoration sage-femme",
            350,
            frozenset({"21"}),
            since=date(2024, 2, 22),
            history=((None, 200),),
        ),
        Act(
            "APC",
            "Avis ponctuel de consultant",
            6000,
            frozenset({"03"}),
            participation_forfaitaire=True,
            history=((None, 5650),),
        ),
        Act(
            "COE",
            "Consultation obligatoire de l'enfant",
            6000,
            frozenset({"01"}),
            participation_forfaitaire=True,
            since=date(2025, 7, 1),
            history=((None, 4750), (date(2024, 12, 22), 5400)),
        ),
        Act(
            "ADE",
            "Acte technique (CCAM)",
            1452,
            _DOCTORS,
            ccam="DEQP003",
            participation_forfaitaire=True,
            source="model",
        ),
        Act(
            "AMI",
            "Acte infirmier (lettre clé)",
            315,
            frozenset({"24"}),
            default_coefficient=100,
            franchise=True,
            # 3 € -> 3.15 € on 15/4/2009; the 0.15 € rise the CNAM proposed for 2026 (avenant
            # 11) had no signed date in the sources found: not modelled
            since=date(2009, 4, 15),
            history=((None, 300),),
        ),
        Act(
            "IFD",
            "Indemnité forfaitaire de déplacement infirmier",
            275,
            frozenset({"24"}),
            since=date(2023, 8, 28),
            history=((None, 250),),
        ),
        Act(
            "AMK",
            "Acte de masso-kinésithérapie (lettre clé)",
            221,
            frozenset({"26"}),
            default_coefficient=750,
            franchise=True,
            # avenant 7 (arrêté of 25/8/2023): the key letter +0.06 € six months later
            since=date(2024, 2, 22),
            history=((None, 215),),
        ),
        # the key letter of biologie médicale, 0.27 € (Les Echos 2017, le Quotidien du médecin
        # 24/3/2019 [PRESS]; no other value found: in force at every date, a convention). A
        # laboratoire bills one B line per visit, its coefficient the sum of the B of the
        # analyses that its Type 4B detail lists (:data:`NABM`)
        Act(
            "B",
            "Actes de biologie médicale (lettre clé B)",
            27,
            frozenset({"30"}),
            participation_forfaitaire=True,
            since=date(2017, 1, 1),
        ),
        # a clinique's stay: the séjour (GHS, one a stay: its tariff a modelling value) and the
        # forfait journalier hospitalier, due for each day of a stay of more than a day, the
        # day of discharge included: 18 € (1/1/2010), 20 € from 1/1/2018 (service-public.fr
        # "forfait hospitalier" [DOC]); the AMO pays it only in maternity (rate 0 otherwise)
        Act(
            "GHS",
            "Séjour (groupe homogène de séjours)",
            180000,
            frozenset({"90"}),
            hospital=True,
            source="model",
            since=date(2000, 1, 1),
        ),
        Act(
            "FJ",
            "Forfait journalier hospitalier",
            2000,
            frozenset({"90"}),
            hospital=True,
            rate=0,
            since=date(2018, 1, 1),
            history=((date(2010, 1, 1), 1800),),
            source="[DOC] service-public.fr",
        ),
        # a taxi conventionné's trip (convention-cadre nationale of the taxis, arrêté of
        # 29/7/2025, JO 8/8/2025, in force 1/11/2025 [PRESS]): the forfait de prise en charge
        # et d'accompagnement, 13 € with the first 4 km; each km beyond at a rate the
        # convention sets per département (1.10 € here, a modelling value). The tariffs of
        # before (per département, by préfectoral arrêté) are not modelled: the oldest known
        # applies before its date (a convention)
        Act(
            "TPC",
            "Taxi: forfait de prise en charge et d'accompagnement (4 km inclus)",
            1300,
            frozenset({"54"}),
            transport=True,
            since=date(2025, 11, 1),
        ),
        Act(
            "TKM",
            "Taxi: kilomètre au-delà du 4e",
            110,
            frozenset({"54"}),
            since=date(2025, 11, 1),
            source="model",
        ),
        # a trip by VSL or ambulance (ameli, "VSL : les tarifs conventionnels", from 8/3/2021,
        # and "Ambulances : les tarifs conventionnels", tarifs au 1/2/2013 [DOC]): the forfait
        # départemental with the first 3 km, and each km beyond. The zone A forfait of the VSL
        # for every département, the codes (but ABA, the SNDS's "ambulances agréées") and
        # the tariffs of before are conventions; the valorisation trajet court, the forfaits
        # agglomération and prise en charge are not modelled
        Act(
            "VSD",
            "VSL : forfait départemental, zone A (3 km inclus)",
            1385,
            frozenset({"55"}),
            transport=True,
            since=date(2021, 3, 8),
            source="[DOC] ameli",
        ),
        Act(
            "VKM",
            "VSL : kilomètre au-delà du 3e",
            102,
            frozenset({"55"}),
            since=date(2021, 3, 8),
            source="[DOC] ameli",
        ),
        Act(
            "ABA",
            "Ambulance : forfait départemental (3 km inclus)",
            5130,
            frozenset({"55"}),
            transport=True,
            since=date(2013, 2, 1),
            source="[DOC] ameli",
        ),
        Act(
            "AKM",
            "Ambulance : kilomètre au-delà du 3e",
            219,
            frozenset({"55"}),
            since=date(2013, 2, 1),
            source="[DOC] ameli",
        ),
        # aides auditives for an adult, per ear, since 1/1/2021 (100 % santé, arrêté of
        # 14/11/2018 [PRESS]): a base of 400 € at 60 %; classe I at most 950 € (reste à
        # charge 0 with a contrat responsable), classe II at a free price, a contrat
        # responsable paying at most 1 700 € with the AMO. The codes AD1 and AD2 are
        # conventions (the SNDS lists the B2 codes of audioprothèses, PAU, AUA..., without
        # their split by class)
        Act(
            "AD1",
            "Aide auditive de classe I (100 % santé), par oreille",
            40000,
            frozenset({"60"}),
            since=date(2021, 1, 1),
            rac_zero_price=95000,
            ages=(HEARING_AID_ADULT, 200),
        ),
        Act(
            "AD2",
            "Aide auditive de classe II, par oreille",
            40000,
            frozenset({"60"}),
            since=date(2021, 1, 1),
            responsible_ceiling=170000,
            ages=(HEARING_AID_ADULT, 200),
        ),
        # a chirurgien-dentiste's acts. A carie's restoration at 29.30 € (anpere.fr, October
        # 2023 [PRESS]; the revaluations of the convention of 2023 were not found). A crown's
        # base is 120 € whatever its material (107.50 € before the 100 % santé's step of
        # 1/4/2019 [PRESS]); one of the 100 % santé basket (céramo-métallique on a visible
        # tooth) is billed at most 500 €, its honoraire limite de facturation, which a
        # contrat responsable and the C2S pay in full beyond the AMO; another at a free price.
        # A crown is coded in CCAM on its Type 4M with its tooth, which decides its basket:
        # the céramo-métallique crown on an incisor, a canine or a first premolar (HBLD634)
        # is of the basket, on a second premolar (HBLD491) of the panier maîtrisé, at most
        # its honoraire limite of 550 € from 1/1/2020, on a molar (HBLD734) at a free price
        # (annexes IV and V of the convention dentaire of 2018 [DOC]; journaldesfemmes.fr,
        # lemedecin.fr [PRESS]). The Type 4 codes are conventions, and so is SDE's lack of a
        # CCAM coding (its CCAM act is not modelled)
        Act(
            "SDE",
            "Soins dentaires : restauration d'une carie",
            2930,
            frozenset({"19"}),
        ),
        Act(
            "DC1",
            "Couronne dentaire du panier 100 % santé",
            12000,
            frozenset({"19"}),
            ccam="HBLD634",
            since=date(2019, 4, 1),
            history=((None, 10750),),
            rac_zero_price=50000,
            tooth_places=(1, 2, 3, 4),
        ),
        Act(
            "DC3",
            "Couronne dentaire du panier maîtrisé",
            12000,
            frozenset({"19"}),
            ccam="HBLD491",
            since=date(2019, 4, 1),
            history=((None, 10750),),
            price_limit=55000,
            tooth_places=(5,),
        ),
        Act(
            "DC2",
            "Couronne dentaire à tarif libre",
            12000,
            frozenset({"19"}),
            ccam="HBLD734",
            since=date(2019, 4, 1),
            history=((None, 10750),),
            tooth_places=(6, 7, 8),
        ),
        # optique médicale, per item, since the 100 % santé basket of optique on 1/1/2020
        # (arrêté of 3/12/2018 [PRESS]). A frame of classe A: a base of 9 € at 60 %, at most
        # 30 € (mutualib.fr, bfmtv.com [PRESS]); of classe B: a base of 0.05 € at a free
        # price, a contrat responsable paying at most 100 € (adpassurances.fr [PRESS]). A
        # unifocal lens of classe B: a base of 0.05 € (mc-alsace.fr [PRESS]), a contrat
        # responsable paying at most 160 €: the 420 € of an equipment of unifocal lenses
        # (décret of 11/1/2019, linternaute.com [PRESS]) less the frame's 100 €, halved (a
        # convention: the décret caps the equipment, not each item). A unifocal lens of
        # classe A: its prix limite and base are not in the sources found; derived (a
        # convention): 60 €, half the lowest price of a pair of classe A lenses, 120 €
        # (corsenetinfos.corsica, January 2020 [PRESS]), and a base of 33 €, at which the AMO
        # pays 30 % of the equipment, as mc-alsace.fr [PRESS] says: 60 % of 9 + 2 × 33 € is
        # 45 € of 150 €. The codes are conventions (an opticien bills LPP codes: individual
        # codes of each maker since 1/7/2021, opticien-presse.fr [PRESS])
        Act(
            "MO1",
            "Monture de classe A (100 % santé)",
            900,
            frozenset({"61"}),
            since=date(2020, 1, 1),
            rac_zero_price=3000,
        ),
        Act(
            "MO2",
            "Monture de classe B (prix libre)",
            5,
            frozenset({"61"}),
            since=date(2020, 1, 1),
            responsible_ceiling=10000,
        ),
        Act(
            "VE1",
            "Verre unifocal de classe A (100 % santé), par verre",
            3300,
            frozenset({"61"}),
            since=date(2020, 1, 1),
            source="model",
            rac_zero_price=6000,
        ),
        Act(
            "VE2",
            "Verre unifocal de classe B (prix libre), par verre",
            5,
            frozenset({"61"}),
            since=date(2020, 1, 1),
            responsible_ceiling=16000,
        ),
        # a patient under 20: classe I at a base equal to its prix limite, 1 400 € an ear
        # (surdi13.fr [PRESS]; 60 % of it, 840 €, mdaudition.fr [PRESS]). Its code AE1 is a
        # convention, as AD1's; a classe II device for a patient under 20 is not modelled
        Act(
            "AE1",
            "Aide auditive de classe I (100 % santé), patient de moins de 20 ans, par oreille",
            140000,
            frozenset({"60"}),
            since=date(2021, 1, 1),
            rac_zero_price=140000,
            ages=(0, HEARING_AID_ADULT),
        ),
        *(
            Act(
                code,
                label,
                0,
                frozenset({"50"}),
                franchise=True,
                rate=rate,
                per_box=True,
                since=date(2000, 1, 1),
                source="[DOC] SNDS ER_PHA_F",
            )
            for code, label, rate in (
                ("PH1", "Pharmacie 100 %", 100),
                ("PH7", "Pharmacie 65 %", 65),
                ("PH4", "Pharmacie 30 %", 30),
                ("PH2", "Pharmacie 15 %", 15),
            )
        ),
    )
}


@dataclass(frozen=True)
class Analysis:
    """An analysis of the nomenclature des actes de biologie médicale (NABM): its code (4
    digits, written on 8 in a Type 4B) and its coefficient in B at each date.

    ``coefficient`` applies from ``since``; ``history`` as :attr:`Act.history`."""

    code: str
    label: str
    coefficient: int
    since: date
    history: tuple[tuple[date | None, int], ...] = ()

    def coefficient_at(self, day: date) -> int:
        """The coefficient in force on ``day`` (the oldest known one before it)."""
        return _in_force(day, self.since, self.coefficient, self.history)


#: The analyses laboratoires bill in noemie-sim. 9005, the forfait de prise en charge
#: pré-analytique, once per patient and day: B17 from 1/4/2019, B16 before (UNCAM decision,
#: JO of 24/3/2019, le Quotidien du médecin [PRESS]). 1104, 1208 and 0996 at the values the
#: UNCAM decision of 2017 gave them (hémogramme B27, TSH B28, exploration d'une anomalie
#: lipidique B21; Les Echos 2017 [PRESS], whose "€" are B: 27 € would be B100); later
#: decisions are not modelled (a convention, docs/rules.md).
NABM = {
    a.code: a
    for a in (
        Analysis(
            "9005",
            "Forfait de prise en charge pré-analytique",
            17,
            since=date(2019, 4, 1),
            history=((None, 16),),
        ),
        Analysis("1104", "Hémogramme y compris plaquettes", 27, date(2017, 1, 1)),
        Analysis("1208", "TSH (sang)", 28, date(2017, 1, 1)),
        Analysis("0996", "Exploration d'une anomalie lipidique", 21, date(2017, 1, 1)),
    )
}


def biology_coefficient(analyses: tuple[str, ...], day: date | None) -> int | None:
    """The coefficient in B (hundredths, as a Type 4 writes it) of a B line whose detail
    lists ``analyses`` (NABM codes) on ``day`` (None: the current coefficients); None when
    one of them is not in the nomenclature."""
    try:
        return 100 * sum(
            NABM[code].coefficient if day is None else NABM[code].coefficient_at(day)
            for code in analyses
        )
    except KeyError:
        return None


def nabm_code(written: str) -> str | None:
    """The NABM code (4 digits) that a Type 4B writes on 8, zero-padded on the left (a
    convention); None when it is not so written."""
    return written[4:] if len(written) == 8 and written[:4] == "0000" else None


def biology_agrees(code: str, coefficient: int, written: tuple[str, ...], day: date) -> bool:
    """What the caisse checks of a line's biology (reject 0318 030 otherwise): a biology act
    (B) lists its analyses (``written`` as a Type 4B writes them, one per unit of quantity),
    all in the NABM, their coefficients on ``day`` adding up to its ``coefficient``
    (hundredths); any other act lists none."""
    if code != "B":
        return not written
    codes = tuple(nabm_code(w) or "?" for w in written)
    return bool(codes) and biology_coefficient(codes, day) == coefficient


def for_age(code: str, age: int) -> bool:
    """What the caisse checks of an act meant for some ages, as an aide auditive for a patient
    under 20 or from 20 (reject 0318 050 otherwise, a convention): the patient's ``age`` on the
    care date is within them; any other act passes."""
    act = ACTS.get(code)
    return act is None or act.ages[0] <= age < act.ages[1]


def ccam_agrees(code: str, ccam: str | None, teeth: str | None) -> bool:
    """What the caisse checks of an act's CCAM coding, ``ccam`` and ``teeth`` as its Type 4M
    gives them (None without a 4M; reject 0318 060 otherwise, a convention): an act coded in
    CCAM has its 4M with its code, and a dental one names one tooth of a permanent quadrant
    (ISO 3950: 1 to 4) at a place it is for; an act without a CCAM code has no 4M."""
    act = ACTS.get(code)
    expected = act.ccam if act is not None else None
    if ccam != expected:
        return False
    if act is None or not act.tooth_places:
        return True
    return (
        teeth is not None
        and len(teeth) == 2
        and teeth[0] in "1234"
        and teeth[1].isdigit()
        and int(teeth[1]) in act.tooth_places
    )


def within_price_limit(code: str, fee: int, quantity: int) -> bool:
    """What the caisse checks of a device of the 100 % santé basket or of the panier
    maîtrisé (reject 0318 040 otherwise, a convention): it is billed at most its prix limite
    de vente, or its honoraire limite, a unit; any other act passes."""
    act = ACTS.get(code)
    limit = None if act is None else act.rac_zero_price or act.price_limit
    return limit is None or fee <= limit * quantity


@dataclass(frozen=True)
class Drug:
    """A drug a pharmacy dispenses: its CIP13 (fictitious, with a valid EAN-13 key), its
    prestation code (hence its rate) and the price of one box in cents (a modelling value)."""

    cip13: str
    label: str
    code: str
    price: int


def _cip13(serial: int) -> str:
    """A fictitious CIP13: 34009 (the French prefix), 7 digits, the EAN-13 key."""
    body = f"34009{serial:07d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


DRUGS = tuple(
    Drug(_cip13(serial), label, code, price)
    for serial, label, code, price in (
        (9000001, "Paracétamol 1 g, 8 comprimés", "PH7", 218),
        (9000002, "Amoxicilline 1 g, 6 comprimés", "PH7", 327),
        (9000003, "Metformine 850 mg, 90 comprimés", "PH7", 655),
        (9000004, "Atorvastatine 20 mg, 90 comprimés", "PH7", 1510),
        (9000005, "Phloroglucinol 80 mg, 10 comprimés", "PH4", 262),
        (9000006, "Diosmectite 3 g, 30 sachets", "PH4", 417),
        (9000007, "Sirop antitussif, 200 ml", "PH2", 295),
        (9000008, "Insuline glargine, 5 stylos", "PH1", 5497),
    )
)
DRUG_BY_CIP = {d.cip13: d for d in DRUGS}


def price_at(code: str, day: date) -> int:
    """The tariff of act ``code`` in force on ``day``, in cents (for one unit of coefficient
    1.00 for a key letter), or the price of one box of the drug whose CIP13 is ``code``.
    KeyError naming the code when neither is in the tables, or for a drug class (PH7...),
    whose price is the drug's."""
    if code in DRUG_BY_CIP:
        return DRUG_BY_CIP[code].price
    act = ACTS.get(code)
    if act is None:
        raise KeyError(f"no act {code!r} in the nomenclature, nor a drug of that CIP13")
    if act.per_box:
        raise KeyError(f"{code} is priced per drug: ask the price of a drug by its CIP13")
    return act.tariff_at(day)


def may_bill(specialty: str, code: str) -> bool:
    """Rule R1 of the cahier des charges: the specialty must be compatible with the act."""
    act = ACTS.get(code)
    return act is not None and specialty in act.specialties


def billable(specialty: str) -> list[Act]:
    """The acts a specialty may bill, in table order."""
    return [a for a in ACTS.values() if specialty in a.specialties]
