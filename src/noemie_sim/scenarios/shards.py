"""A run sharded by caisse: one network per caisse, run on every core or on a Ray cluster,
with one digest whatever runs them.

A scenario with ``shard_by = "caisse"`` is played as a set of shards, one per caisse of its
population. A shard is a whole network of its own (:func:`plan`): the caisse with its hub,
its share of the assurés, practitioners and employers, and every mutuelle's share of that
caisse's traffic (a mutuelle's contracts, links and answers partition by the caisse of the
assuré; its PKI identity is the same in every shard). Each shard has its own clock, agenda,
seed (derived from the run's seed and the caisse), SFTP hub on loopback and journal, in
``RUN/shards/<caisse>/``, a run folder of its own (``report``, ``verify`` and ``trace`` read
it alone). Nothing in the model crosses caisses: a PS bills its own caisse, a caisse pays
the employers it manages, and a mutuelle answers each caisse for that caisse's décomptes. So
shards need no synchronisation at all; if a flow between caisses is ever modelled, it must
cross at points of simulated time (conservative windows as long as the smallest delay
between shards), never by shared state.

The run's digest is a function of the shard digests in caisse order (:func:`run_digest`):
the same seed gives the same digest with one worker, a process pool or Ray, which is
tested. The PKI of all shards is made once before they start, reused from a cache between
runs, and not counted in the run's time.

Engines (:class:`ProcessEngine`, :class:`RayEngine`) only start shards and bring back what
they say; the scheduling is the process pool's or Ray's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import multiprocessing
import os
import queue
import resource
import shutil
import signal
import tarfile
import tempfile
import threading
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from noemie_sim.actors.network import Network, population_of
from noemie_sim.pki.authority import CRL_DAYS, KeyPool, Pki
from noemie_sim.sim import packs
from noemie_sim.sim.clock import cpu_stopwatch, stopwatch
from noemie_sim.sim.domain.population import (
    ShardOf,
    chosen_caisses,
    run_mutuelles,
    shard_parties,
)
from noemie_sim.sim.journal import Event, JournalError, check_run, write_atomically
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.pack import Pack
from noemie_sim.sim.randomness import derived_seed

from . import runner
from .reports import measure
from .runner import play
from .schema import Scenario, parse

#: The file at the top of a sharded run folder: the plan, then each shard's outcome.
MANIFEST = "sharded.json"
FORMAT = "noemie-sim sharded run 1"


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One caisse's network: ``scenario`` is the run's scenario with the shard's own
    network configuration (seed, population share, practitioner groups)."""

    caisse: str  # organisme, 9 digits
    index: int  # among the run's caisses, in the population's order
    scenario: Scenario

    @property
    def name(self) -> str:
        return self.caisse


def _share(total: int, index: int, count: int) -> int:
    """Shard ``index``'s part of ``total`` split over ``count`` shards (the first ones take
    the remainder)."""
    return total // count + (1 if index < total % count else 0)


def plan(scenario: Scenario) -> list[Shard]:
    """The shards of a scenario sharded by caisse, in caisse order. Counts (assurés,
    practitioners of each group, employers) are split evenly, the first caisses taking the
    remainder; every shard keeps all the mutuelles."""
    config = scenario.config
    population = population_of(config)
    caisses = chosen_caisses(population)
    count = len(caisses)
    ranks: dict[str, int] = {}
    shards = []
    for index, caisse in enumerate(caisses):
        department = caisse.organisme[2:4]
        rank = ranks.get(department, 0)
        ranks[department] = rank + 1
        share = dataclasses.replace(
            config.population,
            assures=max(1, _share(population.assures, index, count)),
            caisses=1,
            caisse_numbers=(int(caisse.organisme[2:5]),),
            practitioners=_share(config.population.practitioners, index, count),
            employers=_share(population.employers, index, count),
            shard=ShardOf(config.seed, index, rank),
        )
        groups = tuple(
            dataclasses.replace(g, count=_share(g.count, index, count))
            for g in config.practitioner_groups
        )
        shard_config = dataclasses.replace(
            config,
            seed=derived_seed(config.seed, f"shard/{caisse.organisme}"),
            population=share,
            practitioner_groups=groups,
        )
        shards.append(
            Shard(caisse.organisme, index, dataclasses.replace(scenario, config=shard_config))
        )
    return shards


def run_parties(scenario: Scenario, shards: list[Shard]) -> list[tuple[str, str]]:
    """The (role, id) of every party of a sharded run, without building any population:
    the caisses, each shard's practitioners and employers, the mutuelles."""
    of_shards = [p for s in shards for p in shard_parties(population_of(s.scenario.config))]
    mutuelles = run_mutuelles(scenario.config.seed, scenario.config.population.mutuelles)
    return (
        [("cpam", s.caisse) for s in shards]
        + [p for p in of_shards if p[0] == "ps"]
        + [("oc", m.oc_number) for m in mutuelles]
        + [p for p in of_shards if p[0] != "ps"]
    )


def run_digest(digests: list[tuple[str, str]]) -> str:
    """The digest of a sharded run: SHA-256 over each (caisse, shard digest), in caisse
    order."""
    text = FORMAT + "\n" + "".join(f"{caisse} {digest}\n" for caisse, digest in digests)
    return hashlib.sha256(text.encode()).hexdigest()


# -- the PKI, made once ---------------------------------------------------------------------


def prepare_pki(
    folder: Path, parties: list[tuple[str, str]], issued_at: datetime,
    keys: KeyPool | None, cache: Path | None, until: datetime | None = None,
) -> bool:  # fmt: skip
    """Make the PKI of ``parties`` in ``folder``, its CRLs valid until ``until`` at least (the
    run's end: shards share it and none of them publishes CRLs, see Network). With
    ``cache``, a PKI of the same parties, issuing time and CRL validity made by an earlier
    run is reused (its files hard-linked, or copied across file systems); a new one is added
    to the cache. True when the cache served it.

    The cache holds test PKIs only: keys come from the :class:`KeyPool` anyway."""
    crl_days = CRL_DAYS
    if until is not None:
        crl_days = max(CRL_DAYS, (until - issued_at).days + CRL_MARGIN_DAYS)
    if cache is None:
        _make_pki(folder, parties, issued_at, keys, crl_days)
        return False
    what = [issued_at.isoformat(), parties] + ([crl_days] if crl_days != CRL_DAYS else [])
    key = hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()[:32]
    cached = cache / key
    hit = (cached / "pki.json").is_file()
    if not hit:
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
        try:
            _make_pki(building / "pki", parties, issued_at, keys, crl_days)
            with contextlib.suppress(OSError):  # another run cached the same PKI first
                os.rename(building / "pki", cached)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(cached, folder, copy_function=_link_or_copy)
    return hit


#: days a sharded run's CRLs outlast its end
CRL_MARGIN_DAYS = 7


def _make_pki(
    folder: Path,
    parties: list[tuple[str, str]],
    issued_at: datetime,
    keys: KeyPool | None,
    crl_days: int = CRL_DAYS,
) -> None:
    pki = Pki.create(folder, issued_at, pool=keys, crl_days=crl_days)
    pki.issue_many(parties, issued_at, pool=keys)


def _link_or_copy(source: str, target: str) -> None:
    # every PKI write replaces a file (write_file: temporary file, then rename), so a run
    # never changes a linked file of the cache in place
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# -- one shard ------------------------------------------------------------------------------


#: Real seconds between two progress messages of a shard (and two checks of a stop).
PROGRESS_EVERY = 0.5


@dataclass(frozen=True)
class Progress:
    """What a shard has done so far (sent every :data:`PROGRESS_EVERY` seconds)."""

    caisse: str
    lines: int
    files: int
    now: datetime


@dataclass(frozen=True)
class ShardResult:
    """A shard's outcome: ``reached_end`` False when it was stopped before the end."""

    caisse: str
    digest: str
    reached_end: bool
    counts: dict[str, int]
    lines: int
    events: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_kb: int  # of the process that ran it so far (a worker runs several shards)


@dataclass(frozen=True)
class ShardJob:
    shard: Shard
    folder: str  # the shard's run folder
    pki: str  # the run's PKI folder
    count: int  # shards in the run

    @property
    def key(self) -> str:
        return self.shard.caisse

    def __call__(self, channel: Channel) -> ShardResult:
        return run_shard(self, channel)


class NotStarted(Exception):
    """A shard that did not start because the run was asked to stop."""


class Channel(Protocol):
    """How a shard talks to whoever started it."""

    def put(self, message: Progress) -> None: ...

    def stopping(self) -> bool: ...


class Job(Protocol):
    """What an engine runs: a picklable piece of work named by ``key`` (a shard, a run of a
    campaign), played by calling it with the channel it talks through. It raises
    :class:`NotStarted` when the channel says stop before it began."""

    @property
    def key(self) -> str: ...

    def __call__(self, channel: Channel) -> Any: ...


class _Quiet:
    def put(self, message: Progress) -> None:
        pass

    def stopping(self) -> bool:
        return False


def run_shard(job: ShardJob, channel: Channel | None = None) -> ShardResult:
    """Play one shard in its folder (a run folder of its own, its ``pki`` a link to the
    run's). When ``channel.stopping()`` says so, the shard stops at its next progress point
    and closes its journal as stopped before its end. A shard played again (Ray retries a task
    whose worker died) starts from an empty folder."""
    channel = channel or _Quiet()
    if channel.stopping():
        raise NotStarted("not started: the run was stopped")
    folder = Path(job.folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    link = folder / "pki"
    if not link.exists():
        link.symlink_to(os.path.relpath(job.pki, folder))
    wall, cpu = stopwatch(), cpu_stopwatch()
    done = {"lines": 0, "files": 0}
    told_at = [-PROGRESS_EVERY]
    network: list[Network] = []

    def listen(event: Event) -> None:
        if event.kind == "invoice-billed":
            done["lines"] += int(event.details["lines"])
        elif event.kind == "file-sent":
            done["files"] += 1

    def progress(now: datetime) -> None:
        # told twice a second at most: a message (and the stop check) crosses processes or a
        # Ray cluster, and a display needs no more; what the shard does never depends on it
        if wall() - told_at[0] < PROGRESS_EVERY:
            return
        told_at[0] = wall()
        channel.put(Progress(job.shard.caisse, done["lines"], done["files"], now))
        if channel.stopping() and network:
            network[0].clock.stop()

    shard = job.shard
    extra = {"shard": {"caisse": shard.caisse, "index": shard.index, "of": job.count}}
    result = asyncio.run(
        play(shard.scenario, folder, listener=listen, progress=progress,
             on_built=network.append, pki_folder=link, extra_config=extra)
    )  # fmt: skip
    try:
        events = result.journal.db.execute("SELECT count(*) FROM events").fetchone()[0]
        reached = network[0].clock.now() >= shard.scenario.config.end
    finally:
        result.journal.close()
    channel.put(Progress(shard.caisse, done["lines"], done["files"], network[0].clock.now()))
    return ShardResult(
        shard.caisse, result.digest, reached, result.counts, done["lines"], int(events),
        round(wall(), 3), round(cpu(), 3), peak_rss_kb(),
    )  # fmt: skip


def peak_rss_kb() -> int:
    """The largest resident memory this process has had (KB): Linux's VmHWM, which a process
    spawned by another does not inherit (getrusage's ru_maxrss does, after fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- engines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A job that ended (its ``key``): its result (a :class:`ShardResult` for a shard), or the
    error that ended it."""

    key: str
    result: Any
    error: str | None = None


class Engine(Protocol):
    """Runs jobs (shards, or the runs of a campaign) somewhere and tells what they say, in
    the order it hears it."""

    name: str
    workers: int

    def run(self, jobs: Sequence[Job]) -> Iterator[Progress | Finished]: ...

    def stop(self) -> None:
        """Ask every running job to stop at its next progress point (Ctrl-C)."""
        ...

    def close(self) -> None:
        """Let go of what the engine started (a local Ray); nothing for the others."""
        ...


class InlineEngine:
    """Every job in this process, one after the other (``--workers 1``)."""

    name = "inline"
    workers = 1

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._heard: queue.Queue[Progress] = queue.Queue()

    def put(self, message: Progress) -> None:
        self._heard.put(message)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass

    def run(self, jobs: Sequence[Job]) -> Iterator[Progress | Finished]:
        for job in jobs:
            result: Any = None
            error: str | None = None
            try:
                result = job(self)
            except NotStarted as exc:
                error = str(exc)
            except Exception as exc:  # the job failed: the run is incomplete, say why
                error = f"{type(exc).__name__}: {exc}"
            while not self._heard.empty():
                yield self._heard.get()
            yield Finished(job.key, result, error)


def _until_finished(heard: queue.Queue[Any], count: int) -> Iterator[Progress | Finished]:
    """What the jobs say, as heard, until ``count`` of them have finished."""
    left = count
    while left:
        message = heard.get()
        if isinstance(message, Finished):
            left -= 1
        if message is not None:
            yield message


class _PoolChannel:
    """A job's channel in a worker process: a manager's queue and event (picklable)."""

    def __init__(self, heard: Any, stop: Any) -> None:
        self.heard, self.stop = heard, stop

    def put(self, message: Progress) -> None:
        self.heard.put(message)

    def stopping(self) -> bool:
        return bool(self.stop.is_set())


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent asks the jobs to stop cleanly
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _speak(norms: Pack) -> None:
    """Make this worker speak the run's norms pack (a worker keeps it for its next jobs)."""
    if norms_pack.active().digest != norms.digest:
        norms_pack.install(norms)


def _pooled(job: Job, channel: _PoolChannel, norms: Pack) -> Any:
    _speak(norms)
    return job(channel)


class ProcessEngine:
    """Jobs on a pool of ``workers`` processes of this machine (spawned, so that no worker
    inherits the parent's threads or event loop)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._stop: Any = None

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def close(self) -> None:
        pass  # the pool ends with each run

    def run(self, jobs: Sequence[Job]) -> Iterator[Progress | Finished]:
        context = multiprocessing.get_context("spawn")
        heard: queue.Queue[Progress | Finished | None] = queue.Queue()
        with context.Manager() as manager, ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_worker_start
        ) as pool:  # fmt: skip
            told = manager.Queue()
            self._stop = manager.Event()
            channel = _PoolChannel(told, self._stop)

            def forward() -> None:
                while (message := told.get()) is not None:
                    heard.put(message)

            forwarder = threading.Thread(target=forward, daemon=True)
            forwarder.start()

            def finished(future: Future[Any], key: str) -> None:
                if future.cancelled():
                    heard.put(Finished(key, None, "not started: the run was stopped"))
                elif isinstance(exc := future.exception(), NotStarted):
                    heard.put(Finished(key, None, str(exc)))
                elif exc is not None:
                    heard.put(Finished(key, None, f"{type(exc).__name__}: {exc}"))
                else:
                    heard.put(Finished(key, future.result()))

            for job in jobs:
                future = pool.submit(_pooled, job, channel, norms_pack.active())
                future.add_done_callback(functools.partial(finished, key=job.key))
            try:
                yield from _until_finished(heard, len(jobs))
            finally:
                told.put(None)
                forwarder.join()
                self._stop = None


class RayEngine:
    """Jobs as Ray tasks on an existing cluster (``address``) or a local one (None).

    For shards, each task gets the run's PKI through Ray's object store, plays its shard in a
    folder of the node that runs it and returns that folder (journal, archives, hub) as a tar
    archive, unpacked into the run folder. With ``shared`` (the run folder is on a path every
    node sees: a shared file system, or one machine), tasks read the PKI and write their
    shard there directly; other jobs (a campaign's runs) are always played in place. Ray
    places the tasks (one CPU each, spread over the nodes) and retries one whose worker died;
    progress comes back through a Ray queue."""

    name = "ray"

    def __init__(self, address: str | None, *, shared: bool = False) -> None:
        self.shared = shared
        try:
            ray: Any = importlib.import_module("ray")  # an optional extra, typed or not
        except ImportError:
            raise RuntimeError("the Ray engine needs Ray: pip install 'noemie-sim[ray]'") from None
        self.ray = ray
        self.address = address
        self._flag: Any = None
        self._started_here = False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)  # fmt: skip
            self._started_here = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def stop(self) -> None:
        if self._flag is not None:
            self._flag.set.remote()

    def close(self) -> None:
        if self._started_here:
            self.ray.shutdown()

    def run(self, jobs: Sequence[Job]) -> Iterator[Progress | Finished]:
        ray = self.ray
        from ray.util.queue import Queue

        told = Queue()
        self._flag = ray.remote(num_cpus=0)(_StopFlag).remote()
        options = {"num_cpus": 1, "max_retries": 2, "scheduling_strategy": "SPREAD"}
        norms = norms_pack.active()
        shipped = [job for job in jobs if isinstance(job, ShardJob)]
        if self.shared or len(shipped) < len(jobs):
            task = ray.remote(**options)(_play_in_place)
            refs = {task.remote(job, told, self._flag, norms): job.key for job in jobs}
        else:
            archive = _tar(Path(shipped[0].pki)) if shipped else b""
            name = hashlib.sha256(archive).hexdigest()[:24]
            pki = ray.put(archive)
            task = ray.remote(**options)(_play_shard_on_node)
            refs = {
                task.remote(job, name, pki, told, self._flag, norms): job.key for job in shipped
            }
        heard: queue.Queue[Progress | Finished] = queue.Queue()

        def forward() -> None:
            while (message := told.get()) is not None:
                heard.put(message)

        def wait() -> None:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    caisse = refs[ref]
                    try:
                        value = ray.get(ref)
                    except Exception as exc:  # the task failed after Ray's retries
                        cause = getattr(exc, "cause", None) or exc  # a RayTaskError's cause
                        why = str(cause).strip().splitlines()[-1] if str(cause).strip() else ""
                        heard.put(Finished(caisse, None, why if isinstance(cause, NotStarted)
                                           else f"{type(cause).__name__}: {why}"))  # fmt: skip
                        continue
                    if self.shared or len(shipped) < len(jobs):
                        heard.put(Finished(caisse, value))
                        continue
                    result, archive = value
                    target = Path(next(j.folder for j in shipped if j.key == caisse))
                    _untar(archive, target)
                    (target / "pki").symlink_to(os.path.relpath(shipped[0].pki, target))
                    heard.put(Finished(caisse, result))

        forwarder = threading.Thread(target=forward, daemon=True)
        waiter = threading.Thread(target=wait, daemon=True)
        forwarder.start()
        waiter.start()
        try:
            yield from _until_finished(heard, len(jobs))
        finally:
            told.put(None)
            forwarder.join()
            waiter.join()
            self._flag = None


class _StopFlag:
    """A Ray actor saying whether the run was asked to stop."""

    def __init__(self) -> None:
        self.on = False

    def set(self) -> None:
        self.on = True

    def is_set(self) -> bool:
        return self.on


class _RayChannel:
    def __init__(self, ray: Any, told: Any, flag: Any) -> None:
        self.ray, self.told, self.flag = ray, told, flag

    def put(self, message: Progress) -> None:
        self.told.put(message)

    def stopping(self) -> bool:
        return bool(self.ray.get(self.flag.is_set.remote()))


def _play_in_place(job: Job, told: Any, flag: Any, norms: Pack) -> Any:
    """A Ray task on a shared folder: the job played where the run keeps it."""
    _speak(norms)
    return job(_RayChannel(importlib.import_module("ray"), told, flag))


def _play_shard_on_node(
    job: ShardJob, pki_name: str, pki: bytes, told: Any, flag: Any, norms: Pack
) -> tuple[ShardResult, bytes]:
    """A Ray task: the shard played in a temporary folder of the node, returned as a tar. The
    run's PKI is unpacked once per node (``pki_name`` is its digest), then reused by every
    shard the node plays."""
    import ray

    _speak(norms)
    node_pki = Path(tempfile.gettempdir()) / f"noemie-sim-pki-{pki_name}"
    if not (node_pki / "pki.json").is_file():
        unpacking = Path(tempfile.mkdtemp(prefix=f".{node_pki.name}.", dir=node_pki.parent))
        _untar(pki, unpacking)
        try:
            os.rename(unpacking, node_pki)
        except OSError:  # another task of this node unpacked it first
            shutil.rmtree(unpacking, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="noemie-sim-shard-") as here:
        local = dataclasses.replace(job, folder=str(Path(here) / "shard"), pki=str(node_pki))
        result = run_shard(local, _RayChannel(ray, told, flag))
        (Path(here) / "shard" / "pki").unlink()  # the run folder links its own PKI
        return result, _tar(Path(here) / "shard")


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname=".")
    return buffer.getvalue()


def _untar(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(folder, filter="data")


# -- a whole run ----------------------------------------------------------------------------


@dataclass
class ShardedRun:
    """A sharded run's outcome: ``digest`` is :func:`run_digest` of the shards that ended,
    ``complete`` when every shard reached the end."""

    folder: Path
    digest: str
    results: list[ShardResult]
    failures: dict[str, str] = field(default_factory=dict)
    wall_seconds: float = 0.0
    pki_seconds: float = 0.0
    pki_cached: bool = False

    @property
    def complete(self) -> bool:
        return not self.failures and all(r.reached_end for r in self.results)

    @property
    def lines(self) -> int:
        return sum(r.lines for r in self.results)


def run_sharded(
    scenario: Scenario,
    folder: Path,
    engine: Engine,
    *,
    keys: KeyPool | None = None,
    pki_cache: Path | None = None,
    on_message: Any = None,
) -> ShardedRun:
    """Play a scenario sharded by caisse in ``folder`` with ``engine``: the plan in
    :data:`MANIFEST`, the PKI made (or taken from ``pki_cache``), every shard in
    ``folder/shards/<caisse>``, then each shard's outcome and the run's digest in the
    manifest. ``on_message(Progress | Finished)`` hears the shards."""
    shards = plan(scenario)
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "scenario_name": scenario.name,
        "scenario": scenario.source,
        "seed": scenario.config.seed,
        "engine": engine.name,
        "workers": engine.workers,
        "caisses": [s.caisse for s in shards],
        "norms": norms_pack.active().digest,
        "state": "running",
    }
    packs.keep_with_run(folder)
    _write(folder, manifest)
    timer = stopwatch()
    issued_at = scenario.config.start - timedelta(days=1)
    cached = prepare_pki(folder / "pki", run_parties(scenario, shards), issued_at, keys, pki_cache,
                         scenario.config.end)  # fmt: skip
    pki_seconds = timer()
    jobs = [ShardJob(s, str(folder / "shards" / s.caisse), str(folder / "pki"), len(shards))
            for s in shards]  # fmt: skip
    results: dict[str, ShardResult] = {}
    failures: dict[str, str] = {}
    timer = stopwatch()
    for message in engine.run(jobs):
        if isinstance(message, Finished):
            if message.result is not None:
                results[message.key] = message.result
            else:
                failures[message.key] = message.error or "failed"
        if on_message is not None:
            on_message(message)
    wall = timer()
    for s in shards:
        if s.caisse not in results and s.caisse not in failures:
            failures[s.caisse] = "not started: the run was stopped"
    ordered = [results[s.caisse] for s in shards if s.caisse in results]
    run = ShardedRun(
        folder, run_digest([(r.caisse, r.digest) for r in ordered]), ordered, failures,
        round(wall, 3), round(pki_seconds, 3), cached,
    )  # fmt: skip
    manifest.update(
        state="ended" if run.complete else "incomplete",
        digest=run.digest if not failures else None,
        wall_seconds=run.wall_seconds,
        pki_seconds=run.pki_seconds,
        lines=run.lines,
        failures=failures,
        shards={r.caisse: dataclasses.asdict(r) for r in ordered},
    )
    _write(folder, manifest)
    return run


def _write(folder: Path, manifest: dict[str, Any]) -> None:
    write_atomically(folder / MANIFEST, json.dumps(manifest, indent=1).encode())


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The sharded-run manifest of a run folder; None when the folder is not a sharded run.
    ValueError for a manifest that cannot be read."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not a manifest of a sharded run")
    return manifest


# -- reading a sharded run ------------------------------------------------------------------


def recorded_scenario(manifest: dict[str, Any]) -> Scenario:
    """The scenario (with its seed) a sharded run's manifest recorded."""
    return parse(str(manifest["scenario"]), {"seed": manifest["seed"]})


def _shard_report(folder: str, root_der: bytes | None, norms: Pack) -> dict[str, Any] | str:
    """One shard's report (:func:`runner.report`), or why its journal cannot be trusted: what
    a worker of :func:`report` sends back (a certificate travels as its DER bytes)."""
    _speak(norms)
    root = x509.load_der_x509_certificate(root_der) if root_der is not None else None
    try:
        return runner.report(Path(folder), root)
    except JournalError as exc:
        return str(exc)


def _shard_reports(
    folders: Sequence[Path], root: x509.Certificate | None, workers: int
) -> Generator[dict[str, Any] | str, None, None]:
    """:func:`_shard_report` of each of ``folders``, in their order: in this process, or on a
    pool of ``workers`` spawned processes (each holding one shard's events at a time)."""
    root_der = root.public_bytes(serialization.Encoding.DER) if root is not None else None
    norms = norms_pack.active()
    names = [str(f) for f in folders]
    if workers <= 1 or len(names) <= 1:
        yield from (_shard_report(name, root_der, norms) for name in names)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        min(workers, len(names)), mp_context=context, initializer=_worker_start
    ) as pool:  # fmt: skip
        n = len(names)
        yield from pool.map(_shard_report, names, [root_der] * n, [norms] * n)


def report(folder: Path, root: x509.Certificate | None = None, workers: int = 1) -> dict[str, Any]:
    """The report of a sharded run from its folder: each shard's report (one shard's events
    in memory at a time in a process; :func:`runner.report`), on ``workers`` processes,
    merged in caisse order into the figures of the whole run (:func:`measure.merge`), with one
    verdict (:func:`verdict.decide`). The run is complete when every shard ended intact and
    the shards' digests give the digest the run recorded; a shard missing, cut, stopped or
    failed makes it incomplete; one tampered, tampered. ValueError for a folder that is not a
    readable sharded run."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"{folder} is not a sharded run (no {MANIFEST})")
    scenario = recorded_scenario(manifest)
    parts: list[dict[str, Any]] = []
    digests: list[tuple[str, str]] = []
    problems: list[str] = []
    tampered = False
    shards: list[dict[str, Any]] = []
    recorded = manifest.get("shards") or {}
    present = [c for c in manifest["caisses"]
               if (folder / "shards" / c / "journal.sqlite").exists()]  # fmt: skip
    answers = _shard_reports([folder / "shards" / c for c in present], root, workers)
    for caisse in manifest["caisses"]:
        row: dict[str, Any] = {"caisse": caisse, **_figures_of(recorded.get(caisse))}
        shards.append(row)
        if caisse not in present:
            why = (manifest.get("failures") or {}).get(caisse, "it never ran")
            problems.append(f"shard {caisse}: {why}")
            row["state"] = "missing"
            continue
        part = next(answers)
        if isinstance(part, str):  # its journal was tampered with
            problems.append(f"shard {caisse}: {part}")
            row["state"], tampered = "tampered", True
            continue
        # keep the roles of the parties the merged report shows, not the whole national PKI
        # (36 000 parties) once per shard
        shown = {a for r in part["timeline"] for a in r[1:3]} | {r[1] for r in part["negatives"]}
        part["roles"] = {k: v for k, v in part["roles"].items() if k in shown}
        parts.append(part)
        digests.append((caisse, part["digest"]))
        run = part["run"]
        row.update(state=run["state"], digest=part["digest"], reached_end=run["reached_end"])
        problems += [f"shard {caisse}: {p}" for p in run["problems"]]
        if run["state"] == "complete" and not run["reached_end"]:
            problems.append(f"shard {caisse}: stopped at {run['ended_at']} before the end")
    answers.close()  # every answer taken: the pool, if any, ends here
    digest = run_digest(digests)
    if differs := _digest_differs(manifest, digests, digest):
        tampered = True
        problems.append(differs)
    complete = not problems and manifest.get("state") == "ended" and len(parts) == len(shards)
    if manifest.get("state") != "ended" and not problems:
        problems.append(f"the run did not end ({manifest.get('state')})")
    run_state = "tampered" if tampered else "complete" if complete else "incomplete"
    run = {
        "state": run_state,
        "problems": problems,
        "events": sum(p["run"]["events"] for p in parts),
        "reached_end": complete,
        "ended_at": max((p["run"]["ended_at"] or "" for p in parts), default=None) or None,
    }
    figures = measure.merge(parts, scenario.expect)
    shown = {a for r in figures["timeline"] for a in r[1:3]} | {r[1] for r in figures["negatives"]}
    roles = {k: v for p in parts for k, v in p["roles"].items() if k in shown}
    report = runner.assemble(scenario, run, figures, [], roles, digest=digest,
                             wall_seconds=manifest.get("wall_seconds"))  # fmt: skip
    report["sharded"] = {
        "engine": manifest.get("engine"),
        "workers": manifest.get("workers"),
        "lines": manifest.get("lines"),
        "pki_seconds": manifest.get("pki_seconds"),
        "shards": shards,
    }
    return report


def _digest_differs(
    manifest: dict[str, Any], digests: list[tuple[str, str]], digest: str
) -> str | None:
    """What is wrong when every shard was read and their digests do not give the one the
    run recorded (a shard folder replaced by another's, say)."""
    recorded = manifest.get("digest")
    if recorded and len(digests) == len(manifest["caisses"]) and recorded != digest:
        return f"the shards' digests give {digest}, the run recorded {recorded}"
    return None


def _figures_of(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result:
        return {}
    keep = ("lines", "events", "wall_seconds", "cpu_seconds", "peak_rss_kb")
    return {k: result[k] for k in keep if k in result}


def verify(folder: Path, root: x509.Certificate | None = None) -> tuple[str, list[str], str]:
    """Check a sharded run: every shard's journal and signed manifest (check_run), and that
    their digests give the run's. (state, problems, digest): state is complete, incomplete
    or tampered, as for one run. ValueError for a folder that is not a sharded run."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ValueError(f"{folder} is not a sharded run (no {MANIFEST})")
    states: list[str] = []
    problems: list[str] = []
    digests = []
    for caisse in manifest["caisses"]:
        try:
            check = check_run(folder / "shards" / caisse, root)
        except JournalError as exc:
            states.append("incomplete")
            problems.append(f"shard {caisse}: {exc}")
            continue
        states.append(check.state)
        digests.append((caisse, check.digest))
        problems += [f"shard {caisse}: {p}" for p in check.problems]
    digest = run_digest(digests)
    if differs := _digest_differs(manifest, digests, digest):
        states.append("tampered")
        problems.append(differs)
    if manifest.get("state") != "ended":
        states.append("incomplete")
        problems.append(f"the run did not end ({manifest.get('state')})")
    state = ("tampered" if "tampered" in states
             else "complete" if all(s == "complete" for s in states) else "incomplete")  # fmt: skip
    return state, problems, digest
