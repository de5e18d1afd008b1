"""The lock files (requirements/*.txt, written by `make lock`) match pyproject.toml.

`make install` and the Dockerfile install only what a lock file names, so a dependency
added to pyproject.toml without `make lock` would be missing at run time; these catch it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# Each lock file and the extras it holds beside the runtime dependencies.
LOCKS = {"runtime.txt": (), "dev.txt": ("dev",), "bench.txt": ("dev", "bench")}


def entries(lock: str) -> list[str]:
    """The lock's requirement lines, continuation lines joined, comments dropped."""
    text = (ROOT / "requirements" / lock).read_text().replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(lock: str) -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for entry in entries(lock):
        requirement = Requirement(entry.split(" --hash")[0])
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", entry
        pinned[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pinned


def wanted(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_carries_its_hashes(lock: str) -> None:
    assert [entry for entry in entries(lock) if not re.search(r"--hash=sha256:\w{64}", entry)] == []


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_the_lock_pins_everything_pyproject_asks_for(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    unmet = [
        str(requirement)
        for requirement in wanted(extras)
        if canonicalize_name(requirement.name) not in pinned
        or not requirement.specifier.contains(
            pinned[canonicalize_name(requirement.name)], prereleases=True
        )
    ]
    assert unmet == []


def test_the_locks_agree_on_every_version_they_share() -> None:
    everything = pins("bench.txt")
    differing = [
        (lock, name)
        for lock in ("runtime.txt", "dev.txt")
        for name, version in pins(lock).items()
        if everything.get(name) != version
    ]
    assert differing == []
