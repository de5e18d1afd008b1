"""Find a Java runtime new enough for Neo4j 5.26 (Java 17 or 21)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graph.errors import ServerError

MINIMUM_JAVA_MAJOR = 17


@dataclass(frozen=True)
class JavaRuntime:
    executable: Path
    major: int
    version: str

    @property
    def home(self) -> Path:
        """JAVA_HOME for the boot loader, so the server runs on this very runtime."""
        return self.executable.resolve().parent.parent


def parse_java_version(output: str) -> tuple[int, str]:
    """Read the major version out of `java -version` output.

    Handles both schemes: '"1.8.0_292"' (Java 8 and older) and '"17.0.15"'.
    """
    match = re.search(r'version "([^"]+)"', output)
    if match is None:
        raise ServerError(f"could not read a Java version from: {output.strip()[:200]!r}")
    version = match.group(1)
    parts = version.split(".")
    major = (
        int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(re.sub(r"\D.*", "", parts[0]))
    )
    return major, version


def find_java(env: dict[str, str] | None = None) -> JavaRuntime:
    """The Java that will run Neo4j: $JAVA_HOME/bin/java, else `java` on PATH."""
    env = dict(os.environ) if env is None else env
    java_home = env.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if not candidate.exists():
            raise ServerError(f"JAVA_HOME={java_home} has no bin/java; fix or unset JAVA_HOME")
        executable = candidate
    else:
        found = shutil.which("java", path=env.get("PATH"))
        if found is None:
            raise ServerError(
                f"Java was not found (no JAVA_HOME, no java on PATH); Neo4j 5.26 needs "
                f"Java {MINIMUM_JAVA_MAJOR} or 21 (Debian: apt-get install openjdk-17-jre-headless)"
            )
        executable = Path(found)
    try:
        completed = subprocess.run(
            [str(executable), "-version"], capture_output=True, text=True, timeout=60, env=env
        )
    except OSError as error:
        raise ServerError(f"could not run {executable}: {error}") from None
    major, version = parse_java_version(completed.stderr + completed.stdout)
    if major < MINIMUM_JAVA_MAJOR:
        raise ServerError(
            f"Java {version} at {executable} is too old: Neo4j 5.26 needs Java "
            f"{MINIMUM_JAVA_MAJOR} or newer"
        )
    return JavaRuntime(executable=executable, major=major, version=version)
