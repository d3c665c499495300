"""What a gMSA consumer does with ``msDS-ManagedPassword``: read the blob (MS-ADTS 2.2.19,
MSDS-MANAGEDPASSWORD_BLOB) and derive the account's NT hash, MD4 of the password's UTF-16LE
bytes (MS-NLMP 3.3.1, NTOWFv1), as gMSADumper, msldap and gmsad do."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

__all__ = ["ManagedPassword", "nt_hash"]


@dataclass(frozen=True)
class ManagedPassword:
    """A parsed MSDS-MANAGEDPASSWORD_BLOB."""

    #: The current password: 256 bytes of UTF-16LE (no terminator).
    current: bytes
    #: The previous password, once the account has rolled over.
    previous: Optional[bytes]
    #: Time until the password is next queried for a change (QueryPasswordInterval).
    query_interval: timedelta
    #: Time during which the password stays valid after a change (UnchangedPasswordInterval).
    unchanged_interval: timedelta

    @classmethod
    def parse(cls, blob: bytes) -> "ManagedPassword":
        """Parses the blob: Version 1, Reserved, Length, then offsets of the current and
        previous passwords (null-terminated UTF-16) and of the two intervals (FILETIME
        durations, 100 ns units)."""
        if len(blob) < 16:  # the fixed header: 2+2+4+2+2+2+2 bytes
            raise ValueError("msDS-ManagedPassword blob shorter than its header")
        version, _reserved, length, cur, prev, query, unchanged = struct.unpack_from("<HHIHHHH", blob)
        if version != 1 or length != len(blob):
            raise ValueError(f"msDS-ManagedPassword: version {version}, length {length} of {len(blob)}")

        def password(offset: int, next_offset: int) -> bytes:
            # Up to the next field, less the WCHAR terminator (the password is random bytes and
            # may hold a zero WCHAR, so the terminator cannot be searched for), as impacket's
            # MSDS_MANAGEDPASSWORD_BLOB reads it.
            if not 0 < offset <= next_offset - 2 <= len(blob):
                raise ValueError("msDS-ManagedPassword: password offsets out of order")
            return blob[offset : next_offset - 2]

        def interval(offset: int) -> timedelta:
            (ticks,) = struct.unpack_from("<Q", blob, offset)
            return timedelta(microseconds=ticks // 10)

        return cls(
            current=password(cur, prev or query),
            previous=password(prev, query) if prev else None,
            query_interval=interval(query),
            unchanged_interval=interval(unchanged),
        )

    @property
    def current_nt_hash(self) -> bytes:
        """:func:`nt_hash` of the current password."""
        return nt_hash(self.current)

    @property
    def previous_nt_hash(self) -> Optional[bytes]:
        """:func:`nt_hash` of the previous password, if any."""
        return nt_hash(self.previous) if self.previous is not None else None


def nt_hash(utf16_password: bytes) -> bytes:
    """MD4 of a password already in UTF-16LE (a managed password is). Uses hashlib's MD4, or
    pycryptodome's where OpenSSL 3 lacks it (``pip install adsim-dc[md4]``)."""
    try:
        return hashlib.new("md4", utf16_password).digest()
    except ValueError:
        try:
            from Crypto.Hash import MD4
        except ImportError as e:
            raise RuntimeError("MD4 is unavailable: pip install pycryptodome (or adsim-dc[md4])") from e
        return bytes(MD4.new(utf16_password).digest())
