"""Bearer API keys, compared in constant time (checked by api/guard.py before any route runs)."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr



def key_is_valid(header: str | None, keys: list[str | SecretStr]) -> bool:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    presented = token.strip().encode()
    ok = False
    for key in keys:  # every key is compared, so timing says nothing about which one is close
        secret = key.get_secret_value() if isinstance(key, SecretStr) else key
        ok |= hmac.compare_digest(presented, secret.encode())
    return ok


def owner_of(header: str | None) -> str:
    """Who owns what a request keeps (its conversations): a hash of its bearer key, "" without one.
    The key itself is never stored."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return hashlib.sha256(token.strip().encode()).hexdigest()[:32]
