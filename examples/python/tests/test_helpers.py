"""The package's offline helpers: what New-ADServiceAccount writes, blob and keytab parsing."""

from __future__ import annotations

import base64
import struct

import pytest

from adsim import ManagedPassword, membership_descriptor
from adsim.keytab import KeytabError, parse


def test_the_descriptor_is_the_one_powershell_writes():
    # -PrincipalsAllowedToRetrieveManagedPassword "Authenticated Users" (S-1-5-11):
    # O:S-1-5-32-544D:(A;;0x0f01ff;;;AU), self-relative, byte for byte as Windows stores it.
    authenticated_users = bytes([1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0])
    assert base64.b64encode(membership_descriptor([authenticated_users])).decode() == (
        "AQAEgBQAAAAAAAAAAAAAACQAAAABAgAAAAAABSAAAAAgAgAAAgAcAAEAAAAAABQA/wEPAAEBAAAAAAAFCwAAAA=="
    )


def blob(current: bytes, previous: bytes = b"") -> bytes:
    """An MSDS-MANAGEDPASSWORD_BLOB (MS-ADTS 2.2.19), no padding, as Windows writes it."""
    cur = 16
    prev = cur + len(current) + 2 if previous else 0
    query = (prev + len(previous) + 2) if previous else cur + len(current) + 2
    body = current + b"\0\0" + (previous + b"\0\0" if previous else b"")
    intervals = struct.pack("<QQ", 30 * 864_000_000_000, 29 * 864_000_000_000)
    length = 16 + len(body) + len(intervals)
    return struct.pack("<HHIHHHH", 1, 0, length, cur, prev, query, query + 8) + body + intervals


def test_a_blob_parses_by_its_offsets():
    current, previous = bytes(range(1, 255)) + b"\x00\x01", b"\x02\x00" * 128
    parsed = ManagedPassword.parse(blob(current, previous))
    assert (parsed.current, parsed.previous) == (current, previous)
    assert parsed.query_interval.days == 30 and parsed.unchanged_interval.days == 29
    assert ManagedPassword.parse(blob(current)).previous is None


@pytest.mark.parametrize("bad", [b"", b"\x01\x00" * 4, blob(b"ab")[:-1], b"\x02" + blob(b"ab")[1:]])
def test_a_malformed_blob_is_refused(bad: bytes):
    with pytest.raises(ValueError):
        ManagedPassword.parse(bad)


@pytest.mark.parametrize("bad", [b"", b"\x05\x01", b"\x05\x02\x00\x00\x00\x10abc"])
def test_a_malformed_keytab_is_refused(bad: bytes):
    with pytest.raises(KeytabError):
        parse(bad)
