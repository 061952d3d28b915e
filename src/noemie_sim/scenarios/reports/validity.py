"""The network's law, judged from a run folder: whatever an honest actor emits, ``validate``
accepts.

:func:`invalid_files` validates every clear file archived in a run folder, except the files a
scenario's fault broke on purpose: the journal names those (``file-sent`` with ``fault``), so
the exception is taken from the run's own record, not from a list kept here. It is the
``invalid_files`` figure of a report (when a scenario expects it) and an invariant of every
run of a campaign.
"""

from __future__ import annotations

from pathlib import Path

from noemie_sim.sim.journal import open_journal
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.errors import FormatError


def broken_on_purpose(run: Path) -> set[str]:
    """Names of the files a fault corrupted (as the sender journaled them)."""
    journal = open_journal(run)
    try:
        return {
            str(e.details["name"]) for e in journal.events("file-sent") if e.details.get("fault")
        }
    finally:
        journal.db.close()


def invalid_files(run: Path) -> tuple[int, list[str]]:
    """(files checked, one line per file ``validate`` refuses: path and first anomaly); a
    sharded run's files are those of every shard."""
    if (run / "shards").is_dir():
        results = [invalid_files(shard) for shard in sorted((run / "shards").iterdir())]
        return sum(c for c, _ in results), [line for _, r in results for line in r]
    exempt = broken_on_purpose(run)
    checked, refused = 0, []
    for path in sorted((run / "files").rglob("*.clear")):
        name = path.name.removesuffix(".clear").split("-", 1)[1]  # NNNNNN-name
        if name in exempt:
            continue
        data = path.read_bytes()
        checked += 1
        try:
            anomalies = kinds.resolve(data, None).validate(data)
        except FormatError as exc:
            anomalies = [exc.anomaly]
        if anomalies:
            refused.append(f"{path.relative_to(run)}: {anomalies[0].describe()}")
    return checked, refused
