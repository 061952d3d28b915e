"""The bundled scenarios (``library/*.toml``): their names, and finding a scenario by file path
or by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from .schema import Scenario, ScenarioError, load


def bundled() -> list[str]:
    """The names of the bundled scenarios."""
    return sorted(
        p.name.removesuffix(".toml") for p in _library().iterdir() if p.name.endswith(".toml")
    )


def _library() -> Any:
    return resources.files("noemie_sim.scenarios") / "library"


def find_scenario(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """A scenario file, or a bundled scenario by name. ScenarioError when the file is not a
    valid scenario, or when ``name`` is neither a file nor a bundled scenario."""
    if Path(name).is_file():
        return load(name, overrides)
    if name in bundled():
        with resources.as_file(_library() / f"{name}.toml") as path:
            return load(path, overrides)
    raise ScenarioError("", f"a scenario file, or a bundled scenario: {', '.join(bundled())}", name)
