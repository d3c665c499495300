"""Fetching a gMSA's current NT hash as the host does: read msDS-ManagedPassword over LDAPS
(the DC releases it only to principals msDS-GroupMSAMembership grants, and only over an
encrypted connection), parse the blob (MS-ADTS 2.2.19) and hash the password (MD4 of its
UTF-16LE bytes, MS-NLMP 3.3.1)."""

from __future__ import annotations

from typing import Optional

import ldap3
from ldap3.utils.conv import escape_filter_chars

from adsim.gmsa import ManagedPassword


def fetch_managed_password(conn: ldap3.Connection, base_dn: str, account: str) -> Optional[ManagedPassword]:
    """The gMSA's password blob, parsed, as the connection's principal may read it: ``None``
    when the DC withholds it."""
    conn.search(
        base_dn,
        f"(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName={escape_filter_chars(account)}))",
        attributes=["msDS-ManagedPassword"],
    )
    for entry in conn.response:
        if entry.get("type") != "searchResEntry":
            continue
        values = entry["raw_attributes"].get("msDS-ManagedPassword")
        if values:
            return ManagedPassword.parse(values[0])
    return None


def current_nt_hash(conn: ldap3.Connection, base_dn: str, account: str) -> Optional[bytes]:
    """The gMSA's current NT hash, or ``None`` when this host may not have it."""
    blob = fetch_managed_password(conn, base_dn, account)
    return blob.current_nt_hash if blob else None
