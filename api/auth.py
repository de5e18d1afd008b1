"""Bearer tokens: THREATGRAPH_API_TOKENS holds tokens or their SHA-256 hex digests.

Tokens are kept only as digests and compared with hmac.compare_digest against
every known digest (no early exit), so a near-miss takes as long as a miss.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).digest()


class TokenChecker:
    def __init__(self, configured: tuple[str, ...]) -> None:
        self._digests = [
            bytes.fromhex(item) if _HEX_DIGEST.match(item) else digest(item) for item in configured
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
