"""Signed, expiring rater sessions.

An invite token is exchanged once for a session token, ``rater.expires.generation.mac``,
where the MAC is keyed by the study secret. The app keeps it in the page's query string
(``?s=...``) rather than in a cookie: Streamlit can read cookies but cannot set one from
the server, and a query parameter survives a reload in the same way while the invite leaves
the address bar. Nothing is stored per session: revoking a rater bumps their generation,
which voids every session they hold.
"""

from __future__ import annotations

import hmac
import time

from human_review import assignment as rules

SESSION_SECONDS = 12 * 3600.0


def sign(secret: str, rater_id: int, generation: int, *, now: float | None = None, ttl: float = SESSION_SECONDS) -> str:
    expires = int((time.time() if now is None else now) + ttl)
    mac = rules.keyed_hash(secret, "session", rater_id, expires, generation)[:32]
    return f"{rater_id}.{expires}.{generation}.{mac}"


def verify(secret: str, token: str, *, now: float | None = None) -> tuple[int, int] | None:
    """(rater id, generation) of a well-signed session that has not expired, else None."""
    try:
        rater, expires, generation, mac = token.strip().split(".")
        rater_id, exp, gen = int(rater), int(expires), int(generation)
    except ValueError:
        return None
    want = rules.keyed_hash(secret, "session", rater_id, exp, gen)[:32]
    if not hmac.compare_digest(want, mac) or exp < (time.time() if now is None else now):
        return None
    return rater_id, gen
