"""Checks age recipients (age1...) without importing an age library.

An age X25519 recipient is Bech32 (BIP-173 checksum) with the human-readable
part "age" and a 32-byte key; age lifts Bech32's 90-character limit.
"""

from __future__ import annotations

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def check_recipient(text: str) -> str | None:
    """Return why `text` is not an age X25519 recipient, or None when it is."""
    s = text.lower()
    if s.startswith("age-secret-key-"):
        return "is an age SECRET key, not a recipient: never put it in a config file"
    if not s.startswith("age1"):
        return "does not start with age1"
    if text != s and text != text.upper():
        return "mixes upper and lower case"
    hrp, data = s[:3], s[4:]
    if any(c not in _CHARSET for c in data):
        return "contains characters outside the Bech32 alphabet"
    values = [_CHARSET.index(c) for c in data]
    if len(values) < 6 or _polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values) != 1:
        return "has a bad checksum (a typo or a truncated copy)"
    # 5-bit groups → bytes
    acc = bits = 0
    out = bytearray()
    for v in values[:-6]:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if len(out) != 32:
        return f"holds {len(out)} bytes instead of a 32-byte X25519 key"
    return None
