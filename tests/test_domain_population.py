"""The synthetic population: deterministic, valid, with the shares asked for."""

from __future__ import annotations

import pytest

from noemie_sim.sim.domain import identifiers as ids
from noemie_sim.sim.domain.population import Population, PopulationConfig, build

CONFIG = PopulationConfig(
    assures=3000, caisses=2, practitioners=30, mutuelles=4, employers=3, double_mutuelle_share=0.05
)


@pytest.fixture(scope="module")
def population() -> Population:
    return build(11, CONFIG)


def test_same_seed_same_population_byte_for_byte(population: Population) -> None:
    again = build(11, CONFIG)
    assert again == population and again.digest() == population.digest()
    assert build(12, CONFIG).digest() != population.digest()


def test_identifiers_are_valid_unique_and_consistent(population: Population) -> None:
    nirs = [b.nir for _, b in population.beneficiaries()]
    assert len(nirs) == len(set(nirs))
    for insured, who in population.beneficiaries():
        assert ids.check_nir(f"{who.nir}{who.nir_key:02d}", sex=who.sex, birth=who.birth_date) == []
        assert who.insured_nir == insured.nir
    for ps in population.practitioners:
        assert ids.check_ps_number(ps.ps_number) == [] and ids.check_rpps(ps.rpps) == []
        assert ps.ps_number[:2] == ps.caisse[2:4]  # the PS's département is its caisse's
    for mutuelle in population.mutuelles:
        assert ids.check_oc_number(mutuelle.oc_number) == []
    for employer in population.employers:
        assert ids.check_siret(employer.siret) == []
        assert all(e.monthly_gross > 0 for e in employer.employees)


def test_shares(population: Population) -> None:
    people = population.beneficiaries()
    ald = sum(b.ald for _, b in people) / len(people)
    assert abs(ald - CONFIG.ald_share) < 0.03
    insured = population.insured
    covered = {c.insured_nir for c in population.contracts}
    # a foyer with the C2S holds no mutuelle contract; the C2S is the foyer's
    c2s = [i for i in insured if i.person.c2s]
    assert abs(len(c2s) / len(insured) - CONFIG.c2s_share) < 0.03
    assert all(b.c2s for i in c2s for b in i.beneficiaries) and covered.isdisjoint(
        i.nir for i in c2s
    )
    assert abs(len(covered) / (len(insured) - len(c2s)) - CONFIG.mutuelle_share) < 0.03
    active = sum(c.noemie for c in population.contracts) / len(population.contracts)
    assert active > CONFIG.noemie_active_share - 0.04
    # two contracts for the same person (a child on the other parent's contract is not one)
    doubles = [
        n for n in covered if sum(c.covers_person(n) for c in population.contracts_of(n)) == 2
    ]
    assert abs(len(doubles) / len(covered) - CONFIG.double_mutuelle_share) < 0.02
    for nir in doubles:
        first, second = [c for c in population.contracts_of(nir) if c.covers_person(nir)]
        assert first.oc_number != second.oc_number
        assert first.covers(second.start)  # overlapping periods
    assert all(p.tiers_payant_share == CONFIG.tiers_payant_share for p in population.practitioners)
    assert len({p.specialty for p in population.practitioners}) == 4


def test_impossible_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build(1, PopulationConfig(assures=0))
    with pytest.raises(ValueError, match="unknown specialty"):
        build(1, PopulationConfig(specialties=("99",)))


def test_the_other_caisses_are_a_view_not_a_copy() -> None:
    """A PS's foreign patients: every bénéficiaire of the other caisses, caisse by caisse, read
    through the caisses' own lists (no copy per caisse: that cost caisses x population)."""
    population = build(3, PopulationConfig(assures=300, caisses=3))
    mine = population.caisses[1].organisme
    others = population.beneficiaries_not_of(mine)
    flat = [
        pair
        for caisse in population.caisses
        if caisse.organisme != mine
        for pair in population.beneficiaries_of(caisse.organisme)
    ]
    assert len(others) == len(flat) > 0
    assert all(others[i] is flat[i] for i in range(len(flat)))  # the same objects
    assert list(others) == flat and others[-1] is flat[-1] and others[2:5] == flat[2:5]
    assert all(insured.caisse != mine for insured, _who in others)
    with pytest.raises(IndexError):
        others[len(flat)]
