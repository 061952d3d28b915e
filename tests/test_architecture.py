"""The import direction of design.md §2, and the purity of sim/norms and sim/domain."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "noemie_sim"
LAYERS = ["pki", "sim", "actors", "scenarios"]
PURE = ["sim/norms", "sim/domain"]
IO_MODULES = {
    "os",
    "io",
    "pathlib",
    "socket",
    "asyncio",
    "asyncssh",
    "subprocess",
    "time",
    "shutil",
    "sqlite3",
    "tempfile",
    "sys",
}
#: random is allowed in pure code: a seeded generator is computation, not I/O.


def imports_of(path: Path) -> list[str]:
    """Absolute module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["noemie_sim", *path.relative_to(SRC).parent.parts]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_one_way(path: Path) -> None:
    parts = path.relative_to(SRC).parts
    if parts[0] not in LAYERS:
        return  # the package root and __main__ sit above every layer
    rank = LAYERS.index(parts[0])
    for name in imports_of(path):
        segments = name.split(".")
        if segments[0] == "noemie_sim" and len(segments) > 1 and segments[1] in LAYERS:
            assert LAYERS.index(segments[1]) <= rank, f"{path.name} imports upward: {name}"


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_do_no_io_and_import_nothing_above(package: str) -> None:
    allowed_project = {"noemie_sim.sim.norms"} | (
        {"noemie_sim.sim.domain"} if package == "sim/domain" else set()
    )
    for path in (SRC / package).rglob("*.py"):
        for name in imports_of(path):
            root = name.split(".")[0]
            assert root not in IO_MODULES, f"{path.name} imports {name}"
            if root == "noemie_sim":
                assert any(name.startswith(p) for p in allowed_project), (
                    f"{path.name} imports {name}"
                )
        source = path.read_text(encoding="utf-8")
        assert "open(" not in source.replace("def open(", ""), f"{path.name} opens files"
        for clock in ("now(", "today(", "utcnow(", "perf_counter"):
            assert clock not in source, f"{path.name} reads the wall clock ({clock})"


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    for path in files():
        if path.name == "clock.py":
            continue
        source = path.read_text(encoding="utf-8")
        for clock in ("datetime.now(", "date.today(", "utcnow(", "time.time(", "time.sleep("):
            assert clock not in source, f"{path.relative_to(SRC)} reads the wall clock: {clock}"


def test_nothing_waits_for_real_outside_the_clock_and_the_transport() -> None:
    """Real waiting belongs to the clock (scaled mode) and to the transport's own network
    timeouts and backoff; actors and scenarios wait on the simulated clock."""
    allowed = {SRC / "sim" / "clock.py"} | set((SRC / "sim" / "transport").glob("*.py"))
    for path in files():
        if path in allowed:
            continue
        source = path.read_text(encoding="utf-8")
        for wait in ("asyncio.sleep(", "time.monotonic(", "loop.time(", "perf_counter("):
            assert wait not in source, f"{path.relative_to(SRC)} waits or times for real: {wait}"


def test_tests_never_sleep_for_real() -> None:
    """Tests run on simulated time. Only the transport tests may poll, briefly, for what a real
    socket does on its own time (a server noticing a dropped connection); yielding to the
    event loop (``asyncio.sleep(0)``) is not a sleep."""
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if path.name == "test_architecture.py" or path.name.startswith("test_transport_"):
            continue
        source = path.read_text(encoding="utf-8")
        assert "time.sleep(" not in source, f"{path.name} sleeps for real"
        assert not re.search(r"asyncio\.sleep\((?!0\))", source), f"{path.name} sleeps for real"


#: The rooms of the top layer (docs/architecture.md): which sub-package may import which.
#: The scenario core (schema, catalogue, runner) sits under reports and vendors; the command
#: line imports everything and nothing imports it.
ROOMS_BELOW = {
    "cli": {"core", "reports", "vendors", "cli"},
    "vendors": {"core", "reports", "vendors"},
    "reports": {"core", "reports", "vendors"},
    "core": {"core", "reports", "vendors"},
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["noemie_sim", "scenarios"]:
        return None
    return parts[2] if len(parts) > 2 and parts[2] in ("cli", "vendors", "reports") else "core"


@pytest.mark.parametrize(
    "path", sorted((SRC / "scenarios").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_the_rooms_of_the_top_layer(path: Path) -> None:
    """Nothing but the command line imports the command line (its usage errors and exit codes
    stay its own): reports, vendors and the scenario core are usable without it."""
    module = ".".join(["noemie_sim", *path.relative_to(SRC).with_suffix("").parts])
    room = _room(module.removesuffix(".__init__"))
    assert room is not None
    for name in imports_of(path):
        target = _room(name)
        if target is not None:
            assert target in ROOMS_BELOW[room], f"{path.name} ({room}) imports {name} ({target})"
