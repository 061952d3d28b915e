"""Télétransmission links (seeds/002): which mutuelle, if any, receives the décomptes of each
bénéficiaire.

Links are per bénéficiaire, not per family: a child covered by the other parent's mutuelle
has its own link. A mutuelle requests a link for each bénéficiaire of a contract; the link
becomes effective on a day the caisse decides (a few jours ouvrés later: the caller computes
it with the calendar). A person has at most one linked mutuelle: when two mutuelles hold
effective links whose periods overlap, the link is *blocked* and the caisse forwards nothing
for that person until one of them ends or is deactivated. A mutuelle answering "bénéficiaire
inconnu" deactivates its link.

Pure: the days it works on are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass
class Link:
    """``oc``'s link for bénéficiaire ``nir`` of assuré ``insured_nir``."""

    oc: str
    insured_nir: str
    nir: str
    start: date
    end: date | None
    requested: date
    effective: date
    deactivated: date | None = None

    def live_on(self, day: date) -> bool:
        """Effective and not deactivated on ``day``."""
        return self.effective <= day and (self.deactivated is None or day < self.deactivated)

    def overlaps(self, other: Link) -> bool:
        return (other.end is None or self.start <= other.end) and (
            self.end is None or other.start <= self.end
        )

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class LinkStatus:
    """``oc`` receives the décomptes when ``blocked_by`` is empty; ``blocked_by`` lists the
    mutuelles claiming the person when there are several."""

    oc: str | None
    blocked_by: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_by)


class LinkRegister:
    """The links a caisse holds, by bénéficiaire NIR."""

    def __init__(self) -> None:
        self._links: dict[str, list[Link]] = {}

    def request(
        self, oc: str, insured_nir: str, nir: str, start: date, end: date | None,
        requested: date, effective: date,
    ) -> Link:  # fmt: skip
        """Register a mutuelle's request for bénéficiaire ``nir`` of assuré ``insured_nir``; a
        new request of the same mutuelle replaces its previous link for that person."""
        links = self._links.setdefault(nir, [])
        links[:] = [k for k in links if k.oc != oc]
        link = Link(oc, insured_nir, nir, start, end, requested, effective)
        links.append(link)
        return link

    def deactivate(self, oc: str, nir: str, day: date) -> bool:
        """End ``oc``'s link for bénéficiaire ``nir`` from ``day``; False if it had none
        live."""
        for link in self._links.get(nir, []):
            if link.oc == oc and (link.deactivated is None or link.deactivated > day):
                link.deactivated = day
                return True
        return False

    def status(self, nir: str, care_day: date, today: date) -> LinkStatus:
        """Where the décompte of care given to bénéficiaire ``nir`` on ``care_day`` goes, as
        known ``today``."""
        live = [k for k in self._links.get(nir, []) if k.live_on(today)]
        claims = sorted({a.oc for a in live for b in live if a.oc != b.oc and a.overlaps(b)})
        if claims:
            return LinkStatus(None, tuple(claims))
        covering = [k for k in live if k.covers(care_day)]
        return LinkStatus(covering[0].oc if covering else None)

    def becoming_effective(self, today: date) -> list[Link]:
        """Links whose effective day is ``today``, in request order per bénéficiaire."""
        return [k for links in self._links.values() for k in links if k.effective == today]

    def links_of(self, nir: str) -> list[Link]:
        """The links requested for bénéficiaire ``nir``."""
        return list(self._links.get(nir, []))

    def people(self) -> list[str]:
        """The bénéficiaires with at least one link requested."""
        return list(self._links)
