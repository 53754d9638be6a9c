"""Which side a response is shown on, and when hidden gold and repeat items come up.

Everything here is keyed by the study secret (HMAC-SHA256), so a rater cannot predict a
side or a gold position from anything the browser sees, and the same study replays the
same way. The resulting mapping is stored in the database at claim time; it is never sent
to the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets

GOLD_EVERY = 5  # about one item in five is a gold item, until the rater has seen them all
REPEAT_EVERY = 6  # about one item in six is a repeat, until the rater has had their share
REPEAT_MIN_GAP = 3  # a repeat comes at least this many items after the original


def new_secret() -> str:
    return secrets.token_hex(32)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


def keyed_hash(secret: str, *parts: object) -> str:
    """HMAC-SHA256 of the parts, hex; used for token hashes and for the side and schedule draws."""
    msg = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(bytes.fromhex(secret), msg, hashlib.sha256).hexdigest()


def _draw(secret: str, *parts: object) -> int:
    return int(keyed_hash(secret, *parts)[:16], 16)


def preferred_left_is_x(secret: str, comparison_id: int, rater_id: int) -> bool:
    """The side the keyed hash of (item, rater) asks for: True puts x (the candidate) on the left."""
    return _draw(secret, "side", comparison_id, rater_id) % 2 == 0


def balanced_left_is_x(secret: str, comparison_id: int, rater_id: int, x_left: int, y_left: int, overlap: int) -> bool:
    """The hashed side, unless that way round has already had its share of the ``overlap``
    raters (ceil(k/2)); then the other way round. With k >= 2 every item is shown both ways
    round, and with even k exactly half each way."""
    want = preferred_left_is_x(secret, comparison_id, rater_id)
    quota = math.ceil(overlap / 2)
    taken = x_left if want else y_left
    return want if taken < quota else not want


def extra_due(secret: str, rater_id: int, position: int, gold_left: int, repeat_ready: bool) -> str | None:
    """'gold', 'repeat' or None: whether the rater's ``position``-th item (0-based) is a hidden
    extra. The rater-specific offsets keep the positions from being the same for everyone."""
    if gold_left > 0 and position % GOLD_EVERY == _draw(secret, "gold", rater_id) % GOLD_EVERY:
        return "gold"
    if repeat_ready and position >= REPEAT_EVERY and position % REPEAT_EVERY == _draw(secret, "repeat", rater_id) % REPEAT_EVERY:
        return "repeat"
    return None
