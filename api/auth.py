"""Bearer tokens: THREATGRAPH_API_TOKENS holds tokens or their SHA-256 hex digests.

A configured value of 64 hex digits, in either case and optionally written
`sha256:<hex>`, is a digest; anything else is a token. A `sha256:` value that is
not 64 hex digits is refused at start-up: it was meant as a digest, and taken
as a token it would let its own text in. Tokens are kept only as digests and
compared with hmac.compare_digest against every known digest (no early exit),
so a near-miss takes as long as a miss.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from graph.errors import ConfigurationError

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_DIGEST_PREFIX = "sha256:"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).digest()


def configured_digest(item: str, position: int) -> bytes:
    """The digest a configured value stands for (module docstring)."""
    hex_part = item.removeprefix(_DIGEST_PREFIX)
    if _HEX_DIGEST.fullmatch(hex_part):
        return bytes.fromhex(hex_part)
    if item.startswith(_DIGEST_PREFIX):
        raise ConfigurationError(
            f"THREATGRAPH_API_TOKENS: item {position} starts with {_DIGEST_PREFIX!r} but is "
            "not followed by 64 hex digits (a SHA-256 digest)"
        )
    return digest(item)


class TokenChecker:
    def __init__(self, configured: tuple[str, ...]) -> None:
        self._digests = [
            configured_digest(item, position) for position, item in enumerate(configured, 1)
        ]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def is_valid(self, authorization: str | None) -> bool:
        """True for 'Bearer <token>' with a configured token."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        offered = digest(authorization[len("Bearer ") :].strip())
        valid = False
        for known in self._digests:
            valid |= hmac.compare_digest(offered, known)
        return valid
