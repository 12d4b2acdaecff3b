"""Redis's argument splitting (sdssplitargs), shared by inline requests and config files.

Room: leaf fact. Imports: nothing of diskredis.
"""

from __future__ import annotations

__all__ = ["split_inline"]

_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_SPACE = frozenset(b" \t\n\v\f\r")  # isspace() in the C locale
_TOKEN_END = frozenset(b" \n\r\t\0")  # what ends an unquoted token
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command as Redis's sdssplitargs; None = unbalanced quotes.

    Double quotes take ``\\xHH`` and C escapes, single quotes only ``\\'``; a
    closing quote must be followed by a space or the end. The line is a C
    string: a NUL ends it.
    """
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    n = len(line)
    i = 0
    out: list[bytes] = []
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = done = False
        while not done:
            c = line[i] if i < n else 0
            if inq:
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and (line[i + 2] in _HEX and line[i + 3] in _HEX)
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    done = True
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            elif c in _TOKEN_END:
                done = True
            elif c == 0x22:
                inq = True
            elif c == 0x27:
                insq = True
            else:
                cur.append(c)
            if i < n:
                i += 1
        out.append(bytes(cur))
