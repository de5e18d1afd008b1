"""Vendor the files Strawberry's GraphiQL page loads from unpkg.com.

unpkg.com serves files out of npm packages, so each URL
`https://unpkg.com/<package>@<version>/<path>` names a file in the npm tarball
`<package>@<version>`. `install_assets` fetches those tarballs with npm (the
registry's own client), keeps exactly the files the page loads under
`.vendor/graphiql/<package>@<version>/<path>`, and checks each against the
Subresource Integrity hash the page carries, so the vendored bytes are the very
bytes the page would have loaded.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graph.store.settings import PROJECT_ROOT

UNPKG_URL = "https://unpkg.com/"
VENDOR_DIR = PROJECT_ROOT / ".vendor" / "graphiql"
VENDOR_PATH = "/graphiql/vendor"

_ASSET = re.compile(
    r'(?:src|href)="https://unpkg\.com/(?P<package>(?:@[^/"]+/)?[^@/"]+)@(?P<version>[^/"]+)'
    r'/(?P<path>[^"]+)"\s+integrity="(?P<integrity>sha(?:256|384|512)-[^"]+)"'
)


class AssetError(Exception):
    """A GraphiQL asset could not be fetched or does not match its integrity hash."""


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str
    integrity: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    def file(self, vendor_dir: Path) -> Path:
        return vendor_dir / self.spec / self.path

    def matches(self, content: bytes) -> bool:
        algorithm, _, expected = self.integrity.partition("-")
        digest = hashlib.new(algorithm, content).digest()
        return base64.b64encode(digest).decode() == expected


def unpkg_assets(html: str) -> list[Asset]:
    """Every unpkg.com script and stylesheet in `html`, with its integrity hash."""
    return [
        Asset(m["package"], m["version"], m["path"], m["integrity"]) for m in _ASSET.finditer(html)
    ]


def _npm_pack(spec: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(f"npm is needed to fetch {spec} for GraphiQL; install Node.js and npm")
    completed = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(into), "--silent"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise AssetError(f"npm pack {spec} failed (exit {completed.returncode}): {detail}")
    return into / completed.stdout.strip().splitlines()[-1]


def install_assets(html: str, vendor_dir: Path = VENDOR_DIR) -> list[Asset]:
    """Vendor the assets `html` loads; returns those fetched now (present ones are kept)."""
    missing = [
        a
        for a in unpkg_assets(html)
        if not (a.file(vendor_dir).is_file() and _intact(a, vendor_dir))
    ]
    with tempfile.TemporaryDirectory() as scratch:
        tarballs: dict[str, Path] = {}
        for asset in missing:
            if asset.spec not in tarballs:
                tarballs[asset.spec] = _npm_pack(asset.spec, Path(scratch))
            with tarfile.open(tarballs[asset.spec]) as tarball:
                try:
                    member = tarball.extractfile(f"package/{asset.path}")
                except KeyError:
                    member = None
                if member is None:
                    raise AssetError(f"{asset.spec} has no file {asset.path}")
                content = member.read()
            if not asset.matches(content):
                raise AssetError(
                    f"{asset.spec}/{asset.path} from npm does not match the page's integrity "
                    f"hash {asset.integrity}"
                )
            target = asset.file(vendor_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return missing


def _intact(asset: Asset, vendor_dir: Path) -> bool:
    return asset.matches(asset.file(vendor_dir).read_bytes())
