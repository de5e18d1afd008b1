"""Assemble a Neo4j server's jars from Maven Central with the project's pom.xml.

`mvn dependency:copy-dependencies` copies neo4j, neo4j-server and
neo4j-browser with everything they need into one lib/ folder. The copy is made
in a scratch folder and renamed into place, so a half-finished download is
never mistaken for an installation; a marker records what was installed, so a
second run is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from graph.errors import ServerError

POM_PATH = Path(__file__).resolve().parent.parent / "neo4j" / "pom.xml"
DEFAULT_NEO4J_VERSION = "5.26.30"
MARKER_NAME = ".threatgraph-assembly"


def assembly_fingerprint(neo4j_version: str) -> str:
    digest = hashlib.sha256(POM_PATH.read_bytes())
    digest.update(neo4j_version.encode())
    return digest.hexdigest()


def is_installed(lib_dir: Path, neo4j_version: str) -> bool:
    marker = lib_dir / MARKER_NAME
    return marker.exists() and marker.read_text().strip() == assembly_fingerprint(neo4j_version)


def install_neo4j(
    lib_dir: Path, neo4j_version: str = DEFAULT_NEO4J_VERSION, env: dict[str, str] | None = None
) -> bool:
    """Make sure lib_dir holds the jars of Neo4j `neo4j_version`.

    Returns True when it downloaded, False when the installation was already
    there. Raises ServerError when Maven is missing or cannot resolve.
    """
    if is_installed(lib_dir, neo4j_version):
        return False
    env = dict(os.environ) if env is None else env
    mvn = shutil.which("mvn", path=env.get("PATH"))
    if mvn is None:
        raise ServerError(
            "Maven (mvn) was not found on PATH; it assembles Neo4j from Maven Central "
            "(Debian: apt-get install maven)"
        )
    lib_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = lib_dir.parent / f"{lib_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    _copy_dependencies(
        mvn,
        POM_PATH,
        scratch,
        env,
        f"Maven could not assemble Neo4j {neo4j_version}",
        f"-Dneo4j.version={neo4j_version}",
    )
    (scratch / MARKER_NAME).write_text(assembly_fingerprint(neo4j_version) + "\n")
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    scratch.rename(lib_dir)
    return True


def _copy_dependencies(
    mvn: str, pom: Path, scratch: Path, env: dict[str, str], failure: str, *options: str
) -> None:
    """Copy `pom`'s runtime dependencies into scratch; on failure remove it and raise
    ServerError(f"{failure} (exit N): <Maven's first errors>")."""
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        *options,
        "dependency:copy-dependencies",
        f"-DoutputDirectory={scratch}",
        "-DincludeScope=runtime",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    if completed.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        errors = [line for line in completed.stdout.splitlines() if "[ERROR]" in line]
        detail = " | ".join(errors[:3]) or (completed.stderr.strip()[-300:] or "no output")
        raise ServerError(f"{failure} (exit {completed.returncode}): {detail}")


PLUGINS_POM_PATH = POM_PATH.parent / "plugins-pom.xml"


def plugins_installed(plugins_dir: Path) -> bool:
    marker = plugins_dir / MARKER_NAME
    digest = hashlib.sha256(PLUGINS_POM_PATH.read_bytes()).hexdigest()
    return marker.exists() and marker.read_text().strip() == digest


def install_plugins(plugins_dir: Path, lib_dir: Path, env: dict[str, str] | None = None) -> bool:
    """Copy the optional plugins (APOC core, see plugins-pom.xml) into plugins_dir.

    Jars the server's lib_dir already has (in whatever version) are left out,
    so the server keeps one copy of each library. Returns True when it
    downloaded, False when plugins_dir was already complete. A server uses the
    plugins once they are copied into its home's plugins/ folder.
    """
    plugins_dir = plugins_dir.resolve()  # Maven resolves relative paths from the pom's folder
    if plugins_installed(plugins_dir):
        return False
    env = dict(os.environ) if env is None else env
    mvn = shutil.which("mvn", path=env.get("PATH"))
    if mvn is None:
        raise ServerError("Maven (mvn) was not found on PATH; it fetches the plugins")
    scratch = plugins_dir.parent / f"{plugins_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    _copy_dependencies(mvn, PLUGINS_POM_PATH, scratch, env, "Maven could not fetch the plugins")
    present = {_artifact_name(jar.name) for jar in lib_dir.glob("*.jar")}
    for jar in scratch.glob("*.jar"):
        if _artifact_name(jar.name) in present:
            jar.unlink()
    digest = hashlib.sha256(PLUGINS_POM_PATH.read_bytes()).hexdigest()
    (scratch / MARKER_NAME).write_text(digest + "\n")
    if plugins_dir.exists():
        shutil.rmtree(plugins_dir)
    scratch.rename(plugins_dir)
    return True


def _artifact_name(jar_name: str) -> str:
    """commons-lang3-3.18.0.jar -> commons-lang3 (the name without its version)."""
    parts = jar_name.removesuffix(".jar").split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)
