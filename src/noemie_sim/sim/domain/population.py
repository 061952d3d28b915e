"""A seeded synthetic French population: caisses, assurés and their bénéficiaires, PS,
mutuelles and their contracts, employers and their employees.

Same seed and configuration, same population, byte for byte (:meth:`Population.digest`).
Names and addresses come from Faker fr_FR seeded from the seed; everything else from one
``random.Random(seed)``, drawn in a fixed order. Identifiers are valid and consistent: each
NIR matches its person's sex, birth year and month.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import overload

from faker import Faker

from . import identifiers as ids
from .nomenclature import SPECIALTIES, Profession
from .rules import GRIDS

#: The rest of the caisses of the régime général, one per département (the four CGSS and
#: Mayotte's CSSM included), numbered département + 1 like the documented ones (011 Ain, 131,
#: 751; norms.md §7.6) and 201/202 for Corsica: a convention (the real numbers of the few
#: départements with several CPAMs, and their names, are not modelled).
NATIONAL_CAISSES = (
    (21, "Aisne"),
    (31, "Allier"),
    (41, "Alpes-de-Haute-Provence"),
    (51, "Hautes-Alpes"),
    (71, "Ardèche"),
    (81, "Ardennes"),
    (91, "Ariège"),
    (101, "Aube"),
    (111, "Aude"),
    (121, "Aveyron"),
    (141, "Calvados"),
    (151, "Cantal"),
    (161, "Charente"),
    (171, "Charente-Maritime"),
    (181, "Cher"),
    (191, "Corrèze"),
    (211, "Côte-d'Or"),
    (221, "Côtes-d'Armor"),
    (231, "Creuse"),
    (241, "Dordogne"),
    (251, "Doubs"),
    (261, "Drôme"),
    (271, "Eure"),
    (281, "Eure-et-Loir"),
    (291, "Finistère"),
    (301, "Gard"),
    (321, "Gers"),
    (341, "Hérault"),
    (351, "Ille-et-Vilaine"),
    (361, "Indre"),
    (371, "Indre-et-Loire"),
    (381, "Isère"),
    (391, "Jura"),
    (401, "Landes"),
    (411, "Loir-et-Cher"),
    (421, "Loire"),
    (431, "Haute-Loire"),
    (451, "Loiret"),
    (461, "Lot"),
    (471, "Lot-et-Garonne"),
    (481, "Lozère"),
    (491, "Maine-et-Loire"),
    (501, "Manche"),
    (511, "Marne"),
    (521, "Haute-Marne"),
    (531, "Mayenne"),
    (541, "Meurthe-et-Moselle"),
    (551, "Meuse"),
    (561, "Morbihan"),
    (581, "Nièvre"),
    (601, "Oise"),
    (611, "Orne"),
    (621, "Pas-de-Calais"),
    (631, "Puy-de-Dôme"),
    (641, "Pyrénées-Atlantiques"),
    (651, "Hautes-Pyrénées"),
    (661, "Pyrénées-Orientales"),
    (701, "Haute-Saône"),
    (711, "Saône-et-Loire"),
    (721, "Sarthe"),
    (731, "Savoie"),
    (741, "Haute-Savoie"),
    (761, "Seine-Maritime"),
    (771, "Seine-et-Marne"),
    (781, "Yvelines"),
    (791, "Deux-Sèvres"),
    (801, "Somme"),
    (811, "Tarn"),
    (821, "Tarn-et-Garonne"),
    (831, "Var"),
    (841, "Vaucluse"),
    (851, "Vendée"),
    (861, "Vienne"),
    (871, "Haute-Vienne"),
    (881, "Vosges"),
    (891, "Yonne"),
    (901, "Territoire de Belfort"),
    (911, "Essonne"),
    (921, "Hauts-de-Seine"),
    (931, "Seine-Saint-Denis"),
    (941, "Val-de-Marne"),
    (951, "Val-d'Oise"),
    (201, "Corse-du-Sud"),
    (202, "Haute-Corse"),
    (971, "Guadeloupe (CGSS)"),
    (972, "Martinique (CGSS)"),
    (973, "Guyane (CGSS)"),
    (974, "La Réunion (CGSS)"),
    (976, "Mayotte (CSSM)"),
)

#: Caisse numbers with their département name (a few real CPAM codes, norms.md §7.6; 571
#: and 681 follow the same département-based pattern, a convention).
CAISSES = (
    (751, "Paris"),
    (131, "Bouches-du-Rhône"),
    (691, "Rhône"),
    (331, "Gironde"),
    (592, "Lille-Douai"),
    (311, "Haute-Garonne"),
    (441, "Loire-Atlantique"),
    (671, "Bas-Rhin"),
    (61, "Alpes-Maritimes"),
    (11, "Ain"),
    (571, "Moselle"),
    (681, "Haut-Rhin"),
    *NATIONAL_CAISSES,
)
#: The départements of the régime local d'Alsace-Moselle (Moselle, Bas-Rhin, Haut-Rhin).
ALSACE_MOSELLE_DEPARTMENTS = frozenset({"57", "67", "68"})


def alsace_moselle(organisme: str) -> bool:
    """True for a caisse of Moselle, Bas-Rhin or Haut-Rhin (organisme régime + caisse +
    centre): its assurés are covered by the régime local (a convention: the real rule follows
    the place of work) and it keeps the calendar of Alsace-Moselle."""
    return organisme[2:4] in ALSACE_MOSELLE_DEPARTMENTS


MUTUELLE_NAMES = (
    "Mutuelle Bleue",
    "Mutuelle des Tilleuls",
    "Harmonie Sud",
    "Solimut Ouest",
    "Mutuelle du Rail",
    "Prévoyance Alpine",
    "Avenir Santé",
    "Mutuelle Ligérienne",
)


@dataclass(frozen=True)
class PopulationConfig:
    """Sizes and shares of a population (shares are fractions 0..1)."""

    assures: int = 1000
    caisses: int = 1
    #: the caisses by number (from :data:`CAISSES`), instead of the first ``caisses`` ones
    caisse_numbers: tuple[int, ...] = ()
    practitioners: int = 10
    specialties: tuple[str, ...] = ("01", "01", "01", "03", "24", "26")
    mutuelles: int = 3
    employers: int = 2
    employees_per_employer: int = 20
    ald_share: float = 0.15
    c2s_share: float = 0.05
    tiers_payant_share: float = 0.4
    mutuelle_share: float = 0.9
    noemie_active_share: float = 0.9
    double_mutuelle_share: float = 0.002
    rights_closed_share: float = 0.01
    #: adults with no médecin traitant declared (about one in ten in 2023 [PRESS])
    no_medecin_traitant_share: float = 0.1
    #: children of a covered family whose mutuelle is another one (the other parent's):
    #: NOEMIE links are per bénéficiaire
    split_cover_share: float = 0.05
    pharmacy_tiers_payant_share: float = 0.95  # tiers payant is the norm at the pharmacy
    #: specialists (the cardiologues) in secteur 2, free to bill dépassements, and among them
    #: those who signed the OPTAM (moderated dépassements): modelling values
    secteur2_share: float = 0.5
    optam_share: float = 0.5
    reference_day: date = date(2026, 3, 2)
    #: the share of one caisse in a run sharded by caisse (None: a whole population)
    shard: ShardOf | None = None


#: the specialties whose médecins may be in secteur 2 (the généralistes are nearly all in
#: secteur 1: a convention of the model)
SECTEUR2_SPECIALTIES = frozenset({"03"})


def _sector(
    seed: int, ps_number: str, specialty: str, config: PopulationConfig
) -> tuple[int, bool]:
    """(sector, OPTAM) of a PS: drawn from its own stream (the seed and its number), so that
    the draws of everything else are those of a population without sectors, and a shard
    draws what the whole run draws."""
    if specialty not in SECTEUR2_SPECIALTIES:
        return 1, False
    draw = random.Random(f"{seed}/sector/{ps_number}")
    if draw.random() >= config.secteur2_share:
        return 1, False
    return 2, draw.random() < config.optam_share


@dataclass(frozen=True)
class ShardOf:
    """What makes a caisse's share of a population part of the whole run (a convention of
    noemie-sim, so that shards built apart never clash): the run's seed, from which every
    shard draws the same mutuelles; the caisse's ``index`` among the run's caisses, which
    gives it its own block of NIR commune codes (:data:`COMMUNES_PER_SHARD` of 990) and of
    SIRENs (``index`` then 5 digits); its ``department_rank`` among the run's caisses of its
    département, which gives it its block of n° AM orders (:data:`PS_ORDERS_PER_SHARD`)."""

    run_seed: int
    index: int
    department_rank: int = 0


#: Sizes of the identifier blocks of a shard (see :class:`ShardOf`).
COMMUNES_PER_SHARD = 9  # 110 shards x 9 = the 990 commune codes of a NIR
#: Shares of the population born overseas and abroad (about 3 % and 8 %: convention, near
#: INSEE's figures for residents of France), and of those born abroad registered with a
#: pseudo-month (an incomplete civil status; convention)
BORN_OVERSEAS, BORN_ABROAD, PSEUDO_MONTH = 0.03, 0.08, 0.1
PS_ORDERS_PER_SHARD = 16_000  # 6 caisses of one département (971-976) x 16 000 < 100 000 orders


@dataclass(frozen=True)
class Caisse:
    organisme: str
    name: str

    @property
    def alsace_moselle(self) -> bool:
        return alsace_moselle(self.organisme)


@dataclass(frozen=True)
class Beneficiary:
    """A person covered by an assuré's rights (the assuré first, then the children)."""

    nir: str
    nir_key: int
    sex: int
    birth_date: date
    last_name: str
    first_name: str
    insured_nir: str
    ald: bool = False
    #: the complémentaire santé solidaire: granted to the whole foyer, its part paid by the
    #: caisse (rules.Liquidated.c2s), no mutuelle contract beside it
    c2s: bool = False
    medecin_traitant: bool = True  # declared one (parcours de soins)


@dataclass(frozen=True)
class Insured:
    """An assuré (ouvrant droit), the caisse managing their rights and their bénéficiaires."""

    nir: str
    nir_key: int
    caisse: str
    street: str
    postcode: str
    city: str
    beneficiaries: tuple[Beneficiary, ...]
    rights_until: date | None = None  # None: open; else closed after that day

    @property
    def person(self) -> Beneficiary:
        return self.beneficiaries[0]


@dataclass(frozen=True)
class Practitioner:
    ps_number: str
    rpps: str
    last_name: str
    first_name: str
    specialty: str
    caisse: str
    cabinet_street: str
    cabinet_postcode: str
    cabinet_city: str
    tiers_payant_share: float
    #: the convention's sector: 1 (the tariff, no dépassement) or 2 (dépassements allowed)
    sector: int = 1
    #: a secteur 2 médecin who signed the OPTAM (option de pratique tarifaire maîtrisée): his
    #: dépassements are moderated, and a contrat responsable covers them without the cap it
    #: puts on the others' (rules.oc_part)
    optam: bool = False


@dataclass(frozen=True)
class Mutuelle:
    oc_number: str
    name: str


@dataclass(frozen=True)
class Contract:
    """A mutuelle contract covering bénéficiaires of an assuré from ``start`` to ``end``
    (inclusive; None: open-ended). ``noemie`` says whether the télétransmission links (one
    per bénéficiaire covered) are requested. ``beneficiaries`` are the NIRs covered: the
    family, less a child covered by another mutuelle."""

    oc_number: str
    insured_nir: str
    start: date
    end: date | None
    grid: str
    noemie: bool
    beneficiaries: tuple[str, ...] = ()

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def covers_person(self, nir: str) -> bool:
        return nir in self.beneficiaries


@dataclass(frozen=True)
class Employee:
    nir: str
    nir_key: int
    last_name: str
    first_name: str
    monthly_gross: int  # cents


@dataclass(frozen=True)
class Employer:
    siret: str
    name: str
    caisse: str
    employees: tuple[Employee, ...]


@dataclass(frozen=True)
class Population:
    seed: int
    config: PopulationConfig
    caisses: tuple[Caisse, ...]
    insured: tuple[Insured, ...]
    practitioners: tuple[Practitioner, ...]
    mutuelles: tuple[Mutuelle, ...]
    contracts: tuple[Contract, ...]
    employers: tuple[Employer, ...]

    def digest(self) -> str:
        """SHA-256 over the representation of every member, in order (frozen dataclasses of
        str, int, bool and date: their repr is canonical)."""
        sha = hashlib.sha256(f"{self.seed}|{self.config!r}".encode())
        for group in (self.caisses, self.insured, self.practitioners, self.mutuelles,
                      self.contracts, self.employers):  # fmt: skip
            for member in group:
                sha.update(repr(member).encode())
        return sha.hexdigest()

    def beneficiaries(self) -> list[tuple[Insured, Beneficiary]]:
        return [(i, b) for i in self.insured for b in i.beneficiaries]

    def practitioner(self, ps_number: str) -> Practitioner | None:
        """The PS of that n° AM, None when it is not one of this population's."""
        return self._practitioners_by_number.get(ps_number)

    @cached_property
    def _practitioners_by_number(self) -> dict[str, Practitioner]:
        return {p.ps_number: p for p in self.practitioners}

    @cached_property
    def _beneficiaries_by_caisse(self) -> dict[str, list[tuple[Insured, Beneficiary]]]:
        index: dict[str, list[tuple[Insured, Beneficiary]]] = {}
        for pair in self.beneficiaries():
            index.setdefault(pair[0].caisse, []).append(pair)
        return index

    def beneficiaries_of(self, caisse: str) -> list[tuple[Insured, Beneficiary]]:
        """The bénéficiaires whose rights a caisse manages, in population order."""
        return self._beneficiaries_by_caisse.get(caisse, [])

    def beneficiaries_not_of(self, caisse: str) -> Sequence[tuple[Insured, Beneficiary]]:
        """The bénéficiaires of every other caisse, caisse by caisse (in the population's
        caisse order, then population order): a view over :meth:`beneficiaries_of`'s lists,
        not a copy (a copy per caisse costs caisses x population)."""
        return _Chain(
            [self.beneficiaries_of(c.organisme) for c in self.caisses if c.organisme != caisse]
        )

    @cached_property
    def _contracts_by_insured(self) -> dict[str, list[Contract]]:
        index: dict[str, list[Contract]] = {}
        for contract in self.contracts:
            index.setdefault(contract.insured_nir, []).append(contract)
        return index

    def contracts_of(self, insured_nir: str) -> list[Contract]:
        """An assuré's contracts, in population order (indexed: called per invoice)."""
        return list(self._contracts_by_insured.get(insured_nir, []))

    def cover_of(self, insured_nir: str, nir: str, day: date) -> Contract | None:
        """The first contract covering bénéficiaire ``nir`` of an assuré on ``day``."""
        for contract in self._contracts_by_insured.get(insured_nir, ()):
            if contract.covers(day) and contract.covers_person(nir):
                return contract
        return None

    @cached_property
    def _contracts_by_oc(self) -> dict[str, list[Contract]]:
        index: dict[str, list[Contract]] = {}
        for contract in self.contracts:
            index.setdefault(contract.oc_number, []).append(contract)
        return index

    def contracts_of_oc(self, oc_number: str) -> list[Contract]:
        """A mutuelle's contracts, in population order (indexed: a population may hold
        hundreds of mutuelles)."""
        return list(self._contracts_by_oc.get(oc_number, []))

    @cached_property
    def caisse_of(self) -> dict[str, str]:
        """The caisse managing each assuré's rights, by NIR."""
        return {i.nir: i.caisse for i in self.insured}


class _Chain(Sequence[tuple["Insured", "Beneficiary"]]):
    """Several lists read as one, without copying them (``random.choice`` needs ``len`` and
    indexing only)."""

    def __init__(self, parts: list[list[tuple[Insured, Beneficiary]]]) -> None:
        self._parts = [part for part in parts if part]
        self._starts = list(itertools.accumulate((len(p) for p in self._parts), initial=0))

    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, index: int) -> tuple[Insured, Beneficiary]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Insured, Beneficiary]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> tuple[Insured, Beneficiary] | Sequence[tuple[Insured, Beneficiary]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("index out of range")
        part = bisect.bisect_right(self._starts, index) - 1
        return self._parts[part][index - self._starts[part]]


class _Pools:
    """Names and addresses drawn from Faker fr_FR, seeded: a pool of each, from which the
    population picks with its own generator. Faker calls cost 10-40 µs each; pools sized to
    the population keep 100 000 assurés within seconds while staying varied."""

    def __init__(self, seed: int, size: int) -> None:
        self._fake = Faker("fr_FR")
        self._fake.seed_instance(seed)
        fake = self._fake
        count = max(50, min(5000, size // 10))
        self.male = [fake.first_name_male() for _ in range(count)]
        self.female = [fake.first_name_female() for _ in range(count)]
        self.last = [fake.last_name() for _ in range(count * 2)]
        self.addresses = [
            (fake.street_address(), fake.postcode(), fake.city()) for _ in range(count * 2)
        ]

    def company(self) -> str:
        return str(self._fake.company())


def _mutuelle_name(n: int, names: _Pools, taken: set[str]) -> str:
    """The n-th mutuelle's name, distinct from ``taken``: the fixed ones first, then "Mutuelle
    de" a city of the pool, numbered when that city already has one (a population may hold
    hundreds of mutuelles)."""
    if n < len(MUTUELLE_NAMES):
        return MUTUELLE_NAMES[n]
    city = names.addresses[n % len(names.addresses)][2]
    name, rank = f"Mutuelle de {city}", 1
    while name in taken:
        rank += 1
        name = f"Mutuelle de {city} {rank}"
    return name


def chosen_caisses(config: PopulationConfig) -> tuple[Caisse, ...]:
    """The caisses of a population: those of ``caisse_numbers``, else the first ``caisses``
    of :data:`CAISSES`. ValueError for an unknown number."""
    known = dict(CAISSES)
    for wanted in config.caisse_numbers:
        if wanted not in known:
            raise ValueError(f"unknown caisse {wanted}: one of {', '.join(map(str, known))}")
    chosen = (
        [(n, known[n]) for n in config.caisse_numbers]
        if config.caisse_numbers
        else CAISSES[: config.caisses]
    )
    return tuple(Caisse(ids.organisme(1, number, 0), name) for number, name in chosen)


@functools.lru_cache(maxsize=4)  # every shard of a run asks: one Faker pool per process
def run_mutuelles(run_seed: int, count: int) -> tuple[Mutuelle, ...]:
    """The mutuelles of a run sharded by caisse: the same in every shard, drawn from the run's
    seed alone."""
    rng = random.Random(f"{run_seed}/mutuelles")
    names = _Pools(run_seed, 0)
    mutuelles: list[Mutuelle] = []
    numbers: set[str] = set()
    taken: set[str] = set()
    for n in range(count):
        number = ids.oc_number(f"{rng.randrange(10**7):07d}")
        while number in numbers:
            number = ids.oc_number(f"{rng.randrange(10**7):07d}")
        numbers.add(number)
        mutuelles.append(Mutuelle(number, _mutuelle_name(n, names, taken)))
        taken.add(mutuelles[-1].name)
    return tuple(mutuelles)


def _shard_ps_number(department: str, category: int, shard: ShardOf, n: int) -> str:
    if n >= PS_ORDERS_PER_SHARD:
        raise ValueError(f"at most {PS_ORDERS_PER_SHARD} practitioners in a caisse's shard")
    return ids.ps_number(department, category, shard.department_rank * PS_ORDERS_PER_SHARD + n)


def _shard_siret(shard: ShardOf, n: int) -> str:
    if n >= 100_000:
        raise ValueError("at most 100 000 employers in a caisse's shard")
    return ids.siret(ids.siren(f"{shard.index:03d}{n:05d}"), 1)


def shard_parties(config: PopulationConfig) -> list[tuple[str, str]]:
    """The (role, id) of the practitioners and employers of a caisse's shard, as
    :func:`build` makes them, without building the population (a run's PKI is made before
    its shards run)."""
    shard = config.shard
    if shard is None:
        raise ValueError("not a shard's population")
    (caisse,) = chosen_caisses(config)
    department = caisse.organisme[2:4]
    parties = []
    for n in range(config.practitioners):
        specialty = config.specialties[n % len(config.specialties)]
        category = SPECIALTIES[specialty].profession.category
        parties.append(("ps", _shard_ps_number(department, category, shard, n)))
    parties += [("employer", _shard_siret(shard, n)) for n in range(config.employers)]
    return parties


def _rare_birth(draw: random.Random) -> tuple[str, int, int | None] | None:
    """Where a person was born when not in metropolitan France (None for most people): the
    overseas département or 99 (abroad), the commune or country, and a pseudo-month for
    some of those born abroad. Drawn from its own generator, so that a seed's other draws
    stay as they were."""
    roll = draw.random()
    if roll < BORN_OVERSEAS:
        return draw.choice(ids.OVERSEAS), draw.randint(1, 24), None
    if roll < BORN_OVERSEAS + BORN_ABROAD:
        month = (
            draw.choice((20, 21, 22, 30, 31, 40, 50, 60)) if draw.random() < PSEUDO_MONTH else None
        )
        return ids.ABROAD, draw.choice(ids.COUNTRIES), month
    return None


def build(seed: int, config: PopulationConfig = PopulationConfig()) -> Population:
    """The population of ``seed``; ValueError for an impossible configuration."""
    if config.assures < 1 or config.caisses < 1 or config.practitioners < 0:
        raise ValueError("a population needs at least one assuré and one caisse")
    if config.caisses > len(CAISSES):
        raise ValueError(f"at most {len(CAISSES)} caisses")
    for code in config.specialties:
        if code not in SPECIALTIES:
            raise ValueError(f"unknown specialty {code!r}")
    shard = config.shard
    if shard is not None and (
        len(chosen_caisses(config)) != 1 or shard.index >= 990 // COMMUNES_PER_SHARD
    ):
        raise ValueError("a shard is one caisse, of at most 110 in its run")
    rng = random.Random(seed)
    names = _Pools(seed, config.assures)
    today = config.reference_day
    caisses = chosen_caisses(config)
    # draws added after the first versions use their own generators, so that a seed's other
    # draws (and the populations that scenarios and tests rely on) stay as they were
    pathway = random.Random(f"{seed}/medecin-traitant")
    split = random.Random(f"{seed}/split-cover")
    birthplace = random.Random(f"{seed}/birthplace")
    nirs: set[str] = set()

    def person(
        sex: int, born: date, last: str, insured_nir: str | None = None, c2s: bool | None = None
    ) -> Beneficiary:
        while True:
            department = rng.choice(ids.DEPARTMENTS)
            commune = (
                1 + shard.index * COMMUNES_PER_SHARD + rng.randrange(COMMUNES_PER_SHARD)
                if shard
                else rng.randint(1, 990)
            )
            rank = rng.randint(1, 999)
            rare = _rare_birth(birthplace)
            if rare is not None:
                department, commune, pseudo_month = rare
                if shard:  # the rank, not the commune, keeps a shard's rare NIRs its own
                    rank = 1 + shard.index * COMMUNES_PER_SHARD + rank % COMMUNES_PER_SHARD
            else:
                pseudo_month = None
            body, key = ids.nir(sex, born, department, commune, rank, pseudo_month=pseudo_month)
            if body not in nirs:
                nirs.add(body)
                break
        first = rng.choice(names.male if sex == 1 else names.female)
        ald = rng.random() < config.ald_share
        # the C2S is granted to a foyer: a child has the head's (``c2s``); the draw is made
        # all the same, so that a seed's other draws stay as they were
        drawn_c2s = rng.random() < config.c2s_share
        return Beneficiary(
            body,
            key,
            sex,
            born,
            last,
            first,
            insured_nir or body,
            ald=ald,
            c2s=drawn_c2s if c2s is None else c2s,
            medecin_traitant=pathway.random() >= config.no_medecin_traitant_share,
        )

    insured = []
    for _ in range(config.assures):
        sex = rng.choice((1, 2))
        born = today - timedelta(days=rng.randint(18 * 365, 85 * 365))
        last = rng.choice(names.last)
        head = person(sex, born, last)
        family = [head]
        for _child in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            child_born = today - timedelta(days=rng.randint(30, 17 * 365))
            if child_born.year - born.year >= 18:
                family.append(person(rng.choice((1, 2)), child_born, last, head.nir, c2s=head.c2s))
        closed = rng.random() < config.rights_closed_share
        street, postcode, city = rng.choice(names.addresses)
        insured.append(
            Insured(
                head.nir,
                head.nir_key,
                rng.choice(caisses).organisme,
                street,
                postcode,
                city,
                tuple(family),
                rights_until=today - timedelta(days=rng.randint(1, 200)) if closed else None,
            )
        )

    practitioners = []
    ps_numbers: set[str] = set()
    for n in range(config.practitioners):
        specialty = config.specialties[n % len(config.specialties)]
        profession = SPECIALTIES[specialty].profession
        category = profession.category
        caisse = caisses[n % len(caisses)]
        department = caisse.organisme[2:4]
        while shard is None:
            number = ids.ps_number(department, category, rng.randrange(100_000))
            if number not in ps_numbers:
                ps_numbers.add(number)
                break
        else:
            number = _shard_ps_number(department, category, shard, n)
        street, postcode, city = rng.choice(names.addresses)
        sector, optam = _sector(seed, number, specialty, config)
        practitioners.append(
            Practitioner(
                number,
                f"1{rng.randrange(10**10):010d}",
                rng.choice(names.last),
                rng.choice(names.male + names.female),
                specialty,
                caisse.organisme,
                street,
                postcode,
                city,
                config.pharmacy_tiers_payant_share
                if profession is Profession.PHARMACIEN
                else config.tiers_payant_share,
                sector,
                optam,
            )
        )

    mutuelles = []
    oc_numbers: set[str] = set()
    mutuelle_names: set[str] = set()
    for n in range(config.mutuelles if shard is None else 0):
        while True:
            number = ids.oc_number(f"{rng.randrange(10**7):07d}")
            if number not in oc_numbers:
                oc_numbers.add(number)
                break
        mutuelles.append(Mutuelle(number, _mutuelle_name(n, names, mutuelle_names)))
        mutuelle_names.add(mutuelles[-1].name)
    if shard is not None:
        mutuelles = list(run_mutuelles(shard.run_seed, config.mutuelles))
    contracts: list[Contract] = []
    grids = sorted(GRIDS)
    if mutuelles:
        for assure in insured:
            if rng.random() >= config.mutuelle_share:
                continue
            made = len(contracts)
            start = today - timedelta(days=rng.randint(30, 3 * 365))
            first = rng.choice(mutuelles)
            covered = [b.nir for b in assure.beneficiaries]
            apart: list[str] = []
            if (
                len(mutuelles) > 1
                and len(covered) > 1
                and split.random() < config.split_cover_share
            ):
                apart = [split.choice(covered[1:])]  # a child on the other parent's contract
                covered = [nir for nir in covered if nir not in apart]
            grid = rng.choice(grids)
            noemie = rng.random() < config.noemie_active_share
            contracts.append(
                Contract(first.oc_number, assure.nir, start, None, grid, noemie, tuple(covered))
            )
            if apart:
                other = mutuelles[(mutuelles.index(first) + 1 + split.randrange(len(mutuelles) - 1))
                                  % len(mutuelles)]  # fmt: skip
                contracts.append(
                    Contract(
                        other.oc_number,
                        assure.nir,
                        start,
                        None,
                        split.choice(grids),
                        True,
                        tuple(apart),
                    )
                )
            if len(mutuelles) > 1 and rng.random() < config.double_mutuelle_share:
                second = rng.choice([m for m in mutuelles if m is not first])
                overlap = today - timedelta(days=rng.randint(1, 20))
                contracts.append(
                    Contract(
                        second.oc_number,
                        assure.nir,
                        overlap,
                        None,
                        rng.choice(grids),
                        True,
                        tuple(covered),
                    )
                )
            if assure.person.c2s:
                # a foyer with the C2S has its complémentaire in it, managed by its caisse (a
                # convention: the C2S managed by an OC is not modelled): no mutuelle contract.
                # Dropped after the draws, so that the other foyers' draws stay as they were
                del contracts[made:]

    employers = []
    adults = [i for i in insured if i.rights_until is None]
    for n in range(config.employers):
        siret = (
            ids.siret(ids.siren(f"{rng.randrange(10**8):08d}"), rng.randrange(1, 100))
            if shard is None
            else _shard_siret(shard, n)
        )
        staff = rng.sample(adults, min(config.employees_per_employer, len(adults)))
        employees = tuple(
            Employee(
                i.nir,
                i.nir_key,
                i.person.last_name,
                i.person.first_name,
                rng.randrange(1_900_00, 5_500_00, 100),
            )
            for i in staff
        )
        employers.append(
            Employer(siret, names.company(), caisses[n % len(caisses)].organisme, employees)
        )
    return Population(
        seed,
        config,
        caisses,
        tuple(insured),
        tuple(practitioners),
        tuple(mutuelles),
        tuple(contracts),
        tuple(employers),
    )
