"""Keyset page cursors: the last row's sort keys, signed, so a tampered cursor is refused in one line.

A cursor is `<payload>.<signature>`: the payload is the access pattern's name and the sort-key values
of the page's last row as JSON (base64url), the signature the first 16 bytes of HMAC-SHA256 of the
payload under a key. The key is WORKBOOK_CURSOR_KEY when set (a deployment sets its own), else a
fixed development key, so the document's example cursors are the same on every build.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from .errors import WorkbookError

DEV_KEY = b"workbook development cursor key"


def _key() -> bytes:
    return os.environ.get("WORKBOOK_CURSOR_KEY", "").encode() or DEV_KEY


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(pattern: str, keys: dict[str, object]) -> str:
    """The cursor for the page after the row whose sort keys are `keys` (JSON-ready values)."""
    payload = _b64(json.dumps({"p": pattern, "k": keys}, sort_keys=True, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest()[:16])
    return f"{payload}.{sig}"


def decode(pattern: str, cursor: object, names: tuple[str, ...]) -> dict[str, object]:
    """The sort keys a cursor of `pattern` carries; one line naming the problem for anything else."""
    where = f"cursor for {pattern}"
    if not isinstance(cursor, str) or cursor.count(".") != 1:
        raise WorkbookError(
            f"{where}: malformed (expected <payload>.<signature>, as the previous page returned it)"
        )
    payload, sig = cursor.split(".")
    good = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest()[:16])
    if not hmac.compare_digest(sig, good):
        raise WorkbookError(
            f"{where}: the signature does not match: the cursor was changed or made elsewhere"
        )
    try:
        data = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise WorkbookError(f"{where}: malformed payload") from None
    if data.get("p") != pattern:
        raise WorkbookError(f"{where}: it belongs to {data.get('p')!r}, not to this pattern")
    keys = data.get("k")
    if not isinstance(keys, dict) or set(keys) != set(names):
        raise WorkbookError(f"{where}: it must carry exactly the keys {', '.join(names)}")
    return keys
