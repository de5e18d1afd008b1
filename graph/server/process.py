"""Start, stop and inspect the managed Neo4j server.

Neo4j's own boot loader (org.neo4j.server.startup.Neo4jCommand) does the
process work: it reads neo4j.conf, adds the JVM flags, daemonises the server
and keeps its pid in run/neo4j.pid. This module adds what the project needs on
top: idempotent start, a clear error for every way a start can fail, and
waiting until Bolt really answers.

The home is private to the user running it: its directories are 0700, the
files the project writes (neo4j.conf, credentials) 0600, and Neo4j itself runs
under umask 077, so its store, logs and pid file are the user's alone. The
initial password reaches neo4j-admin through an argument file (0600, removed
at once), never on a command line, which any local user can read in the
process list.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from graph.errors import ServerError
from graph.server.config import ManagedServerSettings, render_neo4j_conf
from graph.server.install import install_neo4j
from graph.server.java import JavaRuntime, find_java

BOOT_LOADER = "org.neo4j.server.startup.Neo4jCommand"
ADMIN_TOOL = "org.neo4j.server.startup.Neo4jAdminCommand"
LOG_TAIL_LINES = 15
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# Neo4j's own files (store, logs, pid) get no group or other permissions.
NEO4J_UMASK = 0o077
HOME_DIRS = ("conf", "data", "logs", "run", "plugins", "import")
INITIAL_PASSWORD_ARGS = "initial-password.args"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    version: str | None
    bolt_uri: str
    browser_url: str

    def describe(self) -> str:
        if not self.running:
            return f"stopped (Bolt {self.bolt_uri}, Browser {self.browser_url})"
        version = self.version or "version unknown"
        return (
            f"running: Neo4j {version}, pid {self.pid}, "
            f"Bolt {self.bolt_uri}, Browser {self.browser_url}"
        )


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def make_private_dir(path: Path) -> None:
    """`path` as a folder only its owner can enter (missing parents get the usual mode)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask; an old one was 0755


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (from the moment it exists)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def argument_file_text(*arguments: str) -> str:
    """An argument file neo4j-admin reads as `@path` (picocli's AtFiles): each
    argument double-quoted, with backslashes and double quotes escaped."""
    quoted = ('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in arguments)
    return "\n".join(quoted) + "\n"


def free_port() -> int:
    """A TCP port nobody listens on right now (for test servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ManagedServer:
    """One Neo4j server home: its configuration, data, logs and process."""

    def __init__(self, settings: ManagedServerSettings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.env = dict(os.environ) if env is None else env

    # -- files -------------------------------------------------------------

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "neo4j.pid"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials"

    @property
    def user(self) -> str:
        return "neo4j"

    @property
    def password(self) -> str:
        """The server's password, generated once per home and kept beside it (mode 600)."""
        if not self.credentials_file.exists():
            make_private_dir(self.home)
            # A fixed first letter: token_urlsafe draws "-" too, and neo4j-admin
            # reads an argument that starts with "-" as an option and stops with
            # its usage (exit 64): without it, one fresh home in 64 would not start.
            write_private_file(self.credentials_file, "tg" + secrets.token_urlsafe(24) + "\n")
        return self.credentials_file.read_text().strip()

    def env_lines(self) -> list[str]:
        """Shell lines (`eval "$(threatgraph neo4j env)"`) pointing any client at this server."""
        return [
            f"NEO4J_URI={self.settings.bolt_uri}",
            f"NEO4J_USER={self.user}",
            f"NEO4J_PASSWORD={self.password}",
        ]

    def log_tail(self) -> str:
        lines: list[str] = []
        for name in ("neo4j.log", "debug.log"):
            path = self.home / "logs" / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                if lines:
                    break
        return "\n".join(lines) if lines else "(the server wrote no log)"

    # -- process -------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of this home's server when it is alive, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        # A stale pid file may name a pid that was reused by another program.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return pid
        return pid if str(self.home.resolve()) in cmdline or str(self.home) in cmdline else None

    def status(self) -> ServerStatus:
        pid = self.running_pid()
        version = self._http_version() if pid is not None else None
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            version=version,
            bolt_uri=self.settings.bolt_uri,
            browser_url=self.settings.browser_url,
        )

    def _http_version(self) -> str | None:
        url = f"http://127.0.0.1:{self.settings.http_port}/"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(json.load(response).get("neo4j_version"))
        except (OSError, ValueError):
            return None

    def _boot_env(self, java: JavaRuntime) -> dict[str, str]:
        env = dict(self.env)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.home / "conf")
        env["JAVA_HOME"] = str(java.home)
        return env

    def _java_command(self, java: JavaRuntime, main_class: str, *args: str) -> list[str]:
        return [str(java.executable), "-cp", f"{self.home / 'lib'}/*", main_class, *args]

    def _prepare_home(self) -> None:
        make_private_dir(self.home)
        for sub in HOME_DIRS:
            make_private_dir(self.home / sub)
        lib_link = self.home / "lib"
        if lib_link.is_symlink() and lib_link.resolve() != self.settings.lib_dir.resolve():
            lib_link.unlink()
        if not lib_link.exists():
            lib_link.symlink_to(self.settings.lib_dir.resolve(), target_is_directory=True)
        write_private_file(self.home / "conf" / "neo4j.conf", render_neo4j_conf(self.settings))

    def install(self) -> bool:
        return install_neo4j(self.settings.lib_dir, self.settings.neo4j_version, env=self.env)

    def start(self, timeout_s: float = 180.0) -> bool:
        """Start the server and wait until Bolt answers.

        Returns False when this home's server was already running (it is
        reused, not restarted), True when it was started now.
        """
        if self.running_pid() is not None:
            self.wait_for_bolt(timeout_s)
            return False
        java = find_java(self.env)
        self.install()
        for name, port in (("Bolt", self.settings.bolt_port), ("HTTP", self.settings.http_port)):
            if not port_is_free(port):
                variable = f"THREATGRAPH_NEO4J_{name.upper()}_PORT"
                raise ServerError(
                    f"port {port} ({name}) is already in use by another process; stop it or "
                    f"set {variable} to a free port"
                )
        first_start = not (self.home / "data" / "dbms").exists()
        self._prepare_home()
        env = self._boot_env(java)
        if first_start:
            self._set_initial_password(java, env)
        self._run_java(java, env, BOOT_LOADER, "start", action="start Neo4j")
        self.wait_for_bolt(timeout_s)
        return True

    def _set_initial_password(self, java: JavaRuntime, env: dict[str, str]) -> None:
        """`neo4j-admin dbms set-initial-password`, the password read from an
        argument file (`@path`, which neo4j-admin documents for every option),
        so it never appears in the process list."""
        arguments = self.home / "run" / INITIAL_PASSWORD_ARGS
        write_private_file(arguments, argument_file_text(self.password))
        try:
            self._run_java(
                java,
                env,
                ADMIN_TOOL,
                "dbms",
                "set-initial-password",
                f"@{arguments}",
                action="set the initial password",
            )
        finally:
            arguments.unlink(missing_ok=True)

    def _run_java(
        self, java: JavaRuntime, env: dict[str, str], main: str, *args: str, action: str
    ) -> str:
        completed = subprocess.run(
            self._java_command(java, main, *args),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            stdin=subprocess.DEVNULL,
            umask=NEO4J_UMASK,
        )
        output = (completed.stdout + completed.stderr).strip()
        if completed.returncode != 0:
            detail = "\n".join(output.splitlines()[-LOG_TAIL_LINES:]) or "no output"
            raise ServerError(
                f"could not {action} (exit {completed.returncode}) in {self.home}:\n{detail}\n"
                f"log tail:\n{self.log_tail()}"
            )
        return output

    def wait_for_bolt(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        auth = (self.user, self.password)
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.running_pid() is None:
                raise ServerError(
                    f"Neo4j in {self.home} stopped while starting; log tail:\n{self.log_tail()}"
                )
            try:
                with neo4j.GraphDatabase.driver(self.settings.bolt_uri, auth=auth) as driver:
                    driver.verify_connectivity()
                return
            except AuthError as error:
                raise ServerError(
                    f"Neo4j at {self.settings.bolt_uri} refused the password kept in "
                    f"{self.credentials_file}: {error.message}"
                ) from None
            except (ServiceUnavailable, OSError) as error:
                last_error = str(error)
            time.sleep(0.5)
        raise ServerError(
            f"Neo4j at {self.settings.bolt_uri} did not answer within {timeout_s:.0f} s "
            f"({last_error}); log tail:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 120.0) -> bool:
        """Stop the server cleanly, keeping its data. False when it was not running."""
        pid = self.running_pid()
        if pid is None:
            return False
        java = find_java(self.env)
        env = self._boot_env(java)
        try:
            self._run_java(java, env, BOOT_LOADER, "stop", action="stop Neo4j")
        except ServerError:
            # The boot loader gives up after its own timeout; finish the job.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        deadline = time.monotonic() + timeout_s
        while self.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        return True

    def kill(self) -> None:
        """SIGKILL the server (fault-injection tests): no clean shutdown."""
        pid = self.running_pid()
        if pid is not None:
            os.kill(pid, 9)
            while self.running_pid() is not None:
                time.sleep(0.1)
