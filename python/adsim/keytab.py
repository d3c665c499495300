"""Reading MIT keytabs (the control API's ``GET /v1/keytab`` answers), format version 0x502:
the layout MIT krb5 documents in ``doc/formats/keytab_file_format.rst``."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple

__all__ = ["KeytabEntry", "parse", "ETYPE_AES256", "ETYPE_AES128", "ETYPE_RC4"]

#: aes256-cts-hmac-sha1-96 (RFC 3962).
ETYPE_AES256 = 18
#: aes128-cts-hmac-sha1-96 (RFC 3962).
ETYPE_AES128 = 17
#: rc4-hmac (RFC 4757): the key is the account's NT hash.
ETYPE_RC4 = 23


@dataclass(frozen=True)
class KeytabEntry:
    """One key of one principal name."""

    components: Tuple[str, ...]
    realm: str
    name_type: int
    timestamp: int
    kvno: int
    etype: int
    key: bytes

    @property
    def principal(self) -> str:
        """``name/instance@REALM``."""
        return "/".join(self.components) + "@" + self.realm


class KeytabError(ValueError):
    """A keytab that is not in the 0x502 format or is truncated."""


def parse(data: bytes) -> List[KeytabEntry]:
    """The entries of a keytab, in file order (holes skipped)."""
    if data[:2] != b"\x05\x02":
        raise KeytabError("not an MIT keytab of version 0x502")
    entries: List[KeytabEntry] = []
    pos = 2
    while pos < len(data):
        if pos + 4 > len(data):
            raise KeytabError("truncated entry length")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        end = pos + abs(size)
        if end > len(data):
            raise KeytabError("entry runs past the end of the keytab")
        if size > 0:
            entries.append(_entry(data[pos:end]))
        pos = end
    return entries


def _entry(e: bytes) -> KeytabEntry:
    try:
        (count,) = struct.unpack_from(">H", e, 0)
        pos = 2

        def counted() -> bytes:
            nonlocal pos
            (n,) = struct.unpack_from(">H", e, pos)
            value = e[pos + 2 : pos + 2 + n]
            if len(value) != n:
                raise KeytabError("truncated string")
            pos += 2 + n
            return value

        realm = counted().decode()
        components = tuple(counted().decode() for _ in range(count))
        name_type, timestamp, kvno8, etype, key_len = struct.unpack_from(">IIBHH", e, pos)
        pos += 13
        key = e[pos : pos + key_len]
        if len(key) != key_len:
            raise KeytabError("truncated key")
        pos += key_len
        kvno32: Optional[int] = struct.unpack_from(">I", e, pos)[0] if pos + 4 <= len(e) else None
    except struct.error as err:
        raise KeytabError(f"truncated entry: {err}") from err
    return KeytabEntry(components, realm, name_type, timestamp, kvno32 if kvno32 else kvno8, etype, key)
