"""Who is asking. A visitor's id is issued and signed by the server, so nobody can act on another visitor's run by
sending its id, or pick ids of their own; caps apply to the client's network address, since a new id costs nothing
and a new address does."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets

TOKEN = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{32})")
MAX_ADDRESS_CHARS = 64  # an IPv6 address is at most 45 characters


class VisitorIds:
    """Issues `ID.SIGNATURE` tokens (kept in the visitor's browser) and checks them; the key lives as long as the
    app, so a restart (which forgets every run anyway) makes old tokens unknown rather than wrong."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)

    def _sign(self, raw: str) -> str:
        return hmac.new(self._key, raw.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        raw = secrets.token_hex(16)
        return f"{raw}.{self._sign(raw)}"

    def verify(self, token) -> str | None:
        """The token if this server issued it, else None (anything a client sends is accepted as input)."""
        found = TOKEN.fullmatch(token) if isinstance(token, str) and len(token) < 80 else None
        if found is None or not hmac.compare_digest(found.group(2), self._sign(found.group(1))):
            return None
        return token


def client_address(headers, socket_host: str | None, behind_proxy: bool) -> str:
    """The address caps are counted by. Behind a Hugging Face Space's proxy the socket is the proxy's, and the
    visitor is the first address of X-Forwarded-For as the proxy sets it; elsewhere the socket's address."""
    if behind_proxy:
        forwarded = (headers.get("x-forwarded-for") or "").split(",")[0].strip()
        if forwarded:
            return network_of(forwarded[:MAX_ADDRESS_CHARS])
    return network_of((socket_host or "unknown")[:MAX_ADDRESS_CHARS])


def network_of(address: str) -> str:
    """One client, one key: an IPv6 visitor holds a whole /64 (a home's or a phone's), so that is what is counted."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
