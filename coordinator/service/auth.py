"""Who may call the server: the API keys a request must carry, and serve's refusal to listen
beyond loopback without one. Transport-neutral: each door finds the key where its transport
carries it (HTTP's Authorization header, a browser WebSocket's subprotocol) and asks here."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from coordinator.errors import AuthenticationError, ConfigError
from coordinator.service.connections import is_loopback


def check_bind(host: str, *, has_api_key: bool, allow_no_auth: bool) -> None:
    """Refuse to serve everyone who can reach the port unless that was asked for explicitly."""
    if has_api_key or allow_no_auth or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without authentication: set API_KEY=<secret> (clients then send "
        "'Authorization: Bearer <secret>'), or set ALLOW_NO_AUTH=1 to serve anyone who can reach the port",
        param="api_key",
    )


def key_digest(key: str) -> bytes:
    # Comparing fixed-size digests keeps a key's length out of the comparison's timing too.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def key_matches(given: str, accepted: Sequence[bytes]) -> bool:
    """Whether ``given`` is one of the keys whose digests are ``accepted``. Every key is compared,
    each in constant time, so the time taken tells neither which key matched nor how much of one."""
    candidate = key_digest(given)
    matched = False
    for expected in accepted:
        matched |= hmac.compare_digest(candidate, expected)
    return matched


class ApiKeys:
    """The keys the server accepts, kept only as digests. None set: every caller is let in."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._accepted = tuple(key_digest(key) for key in keys)

    @property
    def required(self) -> bool:
        return bool(self._accepted)

    def check(self, given: str | None, *, how: str) -> None:
        """AuthenticationError unless ``given`` (None: the caller sent no key) is one of the keys;
        ``how`` tells the caller, in its door's terms, how to send one."""
        if given is None:
            raise AuthenticationError(f"You didn't provide an API key: {how}")
        if not key_matches(given, self._accepted):
            raise AuthenticationError(f"Incorrect API key provided: {how}")
