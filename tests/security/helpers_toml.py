"""Writing hostile text into problem files exactly (shared by the security tests)."""

from __future__ import annotations


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text`` (quotes, backslashes and control characters escaped).

    >>> import tomllib
    >>> tomllib.loads("k = " + toml_string('a"\\\\b\\r\\u2028'))["k"] == 'a"\\\\b\\r\\u2028'
    True
    """
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'
