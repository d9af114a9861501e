"""Bearer API keys, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import SecretStr

from rag.core.errors import Unauthorized


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


async def require_key(request: Request) -> None:
    """A route dependency: 401 unless no keys are configured or the request carries a valid one."""
    keys = request.app.state.foldrag.settings.server.api_keys
    if keys and not key_is_valid(request.headers.get("authorization"), keys):
        raise Unauthorized("a valid API key is required: send 'Authorization: Bearer KEY'")
