"""A running forest as a test sees it: its endpoints, the control API, bound ldap3
connections, and the ActiveDirectory module's cmdlets a test setup needs, done over LDAP as
Administrator. Every rule (schema, access checks, who may read a managed password) is the
server's: a refused operation raises :class:`DirectoryError` with the server's own answer."""

from __future__ import annotations

import os
import ssl
import struct
import tempfile
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

from . import keytab as _keytab
from ._control import Clock, Control, Duration, Snapshot
from .gmsa import ManagedPassword

if TYPE_CHECKING:  # ldap3 is imported when a connection is first made
    # Aliased: inside Forest, ``ldap3`` names the method.
    import ldap3 as _ldap3

    from ._server import Server

__all__ = ["DirectoryError", "Forest", "ForestClock", "DEFAULT_ADMIN_PASSWORD"]

#: ``adsim serve``'s Administrator password unless ``--admin-password``/``ADSIM_ADMIN_PASSWORD``.
DEFAULT_ADMIN_PASSWORD = "Adsim-Passw0rd!"

#: An LM:NT pair with the empty LM hash: ldap3's NTLM takes it in place of a password.
_EMPTY_LM = "aad3b435b51404eeaad3b435b51404ee"

#: The owner New-ADServiceAccount writes into msDS-GroupMSAMembership: BUILTIN\Administrators,
#: S-1-5-32-544, as a binary SID (MS-DTYP 2.4.2.2).
_BUILTIN_ADMINISTRATORS = bytes([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0])

#: The access mask PowerShell grants each principal allowed to retrieve the password.
_GMSA_RETRIEVE_MASK = 0x000F01FF


class DirectoryError(Exception):
    """The directory refused an operation: ``result`` is the LDAP result code, ``description``
    its name and ``message`` the server's diagnostic text (AD's ``0000XXXX: ...`` form)."""

    def __init__(self, operation: str, result: int, description: str, message: str) -> None:
        self.operation = operation
        self.result = result
        self.description = description
        self.message = message
        super().__init__(f"{operation}: {description} ({result}): {message}")


def membership_descriptor(sids: Sequence[bytes]) -> bytes:
    """The self-relative security descriptor New-ADServiceAccount
    -PrincipalsAllowedToRetrieveManagedPassword writes,
    ``O:S-1-5-32-544D:(A;;0x0f01ff;;;<SID>)...`` (MS-DTYP 2.4.6, 2.4.5, 2.4.4.2), from binary
    SIDs."""
    aces = b""
    for sid in sids:
        # ACCESS_ALLOWED_ACE: type 0, flags 0, size, mask, SID.
        aces += struct.pack("<BBHI", 0, 0, 8 + len(sid), _GMSA_RETRIEVE_MASK) + sid
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(sids), 0) + aces
    owner_offset = 20
    dacl_offset = owner_offset + len(_BUILTIN_ADMINISTRATORS)
    # Revision 1, control SE_SELF_RELATIVE | SE_DACL_PRESENT.
    header = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_offset, 0, 0, dacl_offset)
    return header + _BUILTIN_ADMINISTRATORS + acl


@dataclass(frozen=True)
class Domain:
    """One domain of the forest and its DC (the ready line's ``domains[]``)."""

    domain: str
    netbios: str
    realm: str
    base_dn: str
    dc: str
    ldap_url: str
    ldaps_url: str
    kdc: str
    admin: str
    domain_sid: str


class ForestClock:
    """The simulated clock: ``forest.clock.advance("30d")``."""

    def __init__(self, control: Control) -> None:
        self._control = control

    def get(self) -> Clock:
        """The clock as the server reports it."""
        return self._control.clock()

    def now(self) -> datetime:
        """The simulated time."""
        return self._control.clock().datetime

    def advance(self, step: Duration) -> Clock:
        """Moves the clock by ``step`` (``"30d"``, ``"-6m"``, seconds, a timedelta)."""
        return self._control.advance(step)

    def set(self, when: Union[datetime, str]) -> Clock:
        """Sets the clock to ``when`` (an aware datetime or RFC 3339 text)."""
        return self._control.set_clock(when)


class Forest:
    """A running forest: endpoints, the control API and helpers.

    Made by the pytest fixture ``adsim_forest``, by :meth:`from_server`, or for a server
    started elsewhere by :meth:`connect` (its control URL)."""

    def __init__(
        self,
        ready: Dict[str, Any],
        control: Control,
        ca_path: Path,
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        server: Optional["Server"] = None,
    ) -> None:
        #: The ready line of ``adsim serve``, parsed.
        self.ready = ready
        #: The control API client.
        self.control = control
        #: The CA certificate every TLS endpoint verifies against (PEM file).
        self.ca_path = Path(ca_path)
        #: Every domain's Administrator password.
        self.admin_password = admin_password
        #: The process, when this forest was started here.
        self.server = server
        #: The simulated clock.
        self.clock = ForestClock(control)
        #: The forest's domains, root first.
        self.domains: List[Domain] = [
            Domain(**{k: d[k] for k in Domain.__dataclass_fields__}) for d in ready["domains"]
        ]
        self._scratch = tempfile.TemporaryDirectory(prefix="adsim-client-")
        self._krb5_conf: Optional[Path] = None
        self._admin: Dict[int, "_ldap3.Connection"] = {}
        self._opened: List["_ldap3.Connection"] = []
        self._passwords: Dict[Tuple[str, str], str] = {}

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_server(cls, server: "Server") -> "Forest":
        """The forest of a :class:`~adsim.Server` started here."""
        ready = server.ready
        # As adsim serve chose it: the option, else its environment variable, else the default.
        password = server.options.admin_password or os.environ.get("ADSIM_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
        return cls(ready, Control(ready["control_url"]), Path(ready["ca_cert"]), password, server)

    @classmethod
    def connect(cls, control_url: str, admin_password: str = DEFAULT_ADMIN_PASSWORD) -> "Forest":
        """A forest already running (``adsim serve`` elsewhere), from its control URL: the
        endpoints and the CA come from ``GET /v1/ready``."""
        control = Control(control_url)
        ready = control.ready()
        forest = cls(ready, control, Path("/nonexistent"), admin_password)
        forest.ca_path = Path(forest._scratch.name) / "ca.pem"
        forest.ca_path.write_text(ready["ca_pem"])
        return forest

    def close(self) -> None:
        """Unbinds every connection and closes the control client."""
        self.close_connections()
        for conn in self._admin.values():
            _unbind(conn)
        self._admin.clear()
        self.control.close()
        self._scratch.cleanup()

    def close_connections(self) -> None:
        """Unbinds the connections :meth:`ldap3` opened (the fixture does it after each test)."""
        for conn in self._opened:
            _unbind(conn)
        self._opened.clear()

    def __enter__(self) -> "Forest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Forest {self.domain} ldap={self.ldap_url} control={self.control_url}>"

    # -- endpoints -------------------------------------------------------------------------

    @property
    def root(self) -> Domain:
        """The forest root domain."""
        return self.domains[0]

    @property
    def domain(self) -> str:
        """DNS name of the root domain (``corp.example.test``)."""
        return str(self.ready["domain"])

    @property
    def realm(self) -> str:
        """Kerberos realm of the root domain (``CORP.EXAMPLE.TEST``)."""
        return str(self.ready["realm"])

    @property
    def netbios(self) -> str:
        """NetBIOS name of the root domain (``CORP``)."""
        return self.root.netbios

    @property
    def base_dn(self) -> str:
        """The root domain's naming context (``DC=corp,DC=example,DC=test``)."""
        return str(self.ready["base_dn"])

    @property
    def ldap_url(self) -> str:
        return str(self.ready["ldap_url"])

    @property
    def ldaps_url(self) -> str:
        return str(self.ready["ldaps_url"])

    @property
    def gc_url(self) -> str:
        return str(self.ready["gc_url"])

    @property
    def gcs_url(self) -> str:
        return str(self.ready["gcs_url"])

    @property
    def kdc(self) -> str:
        """The root domain's KDC as ``host:port`` (UDP and TCP)."""
        return str(self.ready["kdc"])

    @property
    def control_url(self) -> str:
        return str(self.ready["control_url"])

    @property
    def admin(self) -> str:
        """The root domain's Administrator, down-level (``CORP\\Administrator``)."""
        return f"{self.netbios}\\Administrator"

    @property
    def krb5_conf(self) -> Path:
        """A krb5.conf for the forest (every realm and KDC), written once; point
        ``KRB5_CONFIG`` at it."""
        if self._krb5_conf is None:
            self._krb5_conf = self.write_krb5_conf()
        return self._krb5_conf

    def write_krb5_conf(self, path: Optional[Union[str, Path]] = None, **relations: str) -> Path:
        """Writes krb5.conf to ``path`` (default: a scratch file) with extra ``[libdefaults]``
        relations (``rdns="false"``); returns the path."""
        target = Path(path) if path else Path(self._scratch.name) / "krb5.conf"
        target.write_text(self.control.krb5_conf(relations))
        return target

    # -- control API -----------------------------------------------------------------------

    def snapshot(self, path: Optional[str] = None) -> Snapshot:
        """Takes a snapshot (O(1)); :meth:`restore` returns to it."""
        return self.control.snapshot(path)

    def restore(self, snapshot: Union[Snapshot, str]) -> None:
        """Puts the forest back as it was at ``snapshot`` (clock included)."""
        self.control.restore(snapshot)

    def reset(self) -> None:
        """Back to the state right after start."""
        self.control.reset()

    def add_root_key(self, effective: Union[datetime, str] = "immediately") -> str:
        """Add-KdsRootKey (``"immediately"`` or an instant); returns the key's id."""
        return self.control.add_root_key(effective)

    def keytab(self, principal: str) -> bytes:
        """An MIT keytab with every key of ``principal`` (``WEB01$``, an SPN, ``x@REALM``)."""
        return self.control.keytab(principal)

    def keytab_file(self, principal: str, path: Optional[Union[str, Path]] = None) -> Path:
        """:meth:`keytab` written to ``path`` (default: a scratch file, mode 0600)."""
        target = Path(path) if path else Path(self._scratch.name) / (_safe(principal) + ".keytab")
        target.touch(mode=0o600)
        target.write_bytes(self.keytab(principal))
        return target

    def nt_hash(self, principal: str) -> bytes:
        """The account's NT hash as the KDC holds it: the rc4-hmac key of its keytab export
        (RFC 4757: the RC4 key is the NT hash)."""
        for entry in _keytab.parse(self.keytab(principal)):
            if entry.etype == _keytab.ETYPE_RC4:
                return entry.key
        raise LookupError(f"{principal}: no rc4-hmac key in the keytab export")

    # -- LDAP ------------------------------------------------------------------------------

    def ldap3(
        self,
        principal: Optional[str] = None,
        password: Optional[str] = None,
        *,
        url: Optional[str] = None,
    ) -> "_ldap3.Connection":
        """A bound ldap3 connection over LDAPS (verified against :attr:`ca_path`).

        ``principal`` is ``None`` (Administrator), ``name`` (``WEB01$``, ``alice``),
        ``NETBIOS\\name`` or ``name@REALM``. With ``password`` (or a password given to
        :meth:`new_computer`/:meth:`new_user`) it is a simple bind; otherwise an NTLM bind
        with the account's NT hash from its keytab export. ``url`` overrides the domain DC's
        LDAPS URL (``forest.ldap_url`` for plain LDAP, ``forest.gcs_url``...). The connection is
        unbound after the test."""
        index, name = self._split(principal) if principal else (0, "Administrator")
        domain = self.domains[index]
        user = f"{domain.netbios}\\{name}"
        if password is None:
            if name.lower() == "administrator":
                password = self.admin_password
            else:
                password = self._passwords.get((domain.netbios.upper(), name.lower()))
        if password is not None:
            conn = self._connect(url or domain.ldaps_url, user, password, ntlm=False)
        else:
            nt = self.nt_hash(f"{name}@{domain.realm}")
            conn = self._connect(url or domain.ldaps_url, user, f"{_EMPTY_LM}:{nt.hex()}", ntlm=True)
        self._opened.append(conn)
        return conn

    def _connect(self, url: str, user: str, password: str, ntlm: bool) -> "_ldap3.Connection":
        import ldap3

        parts = urllib.parse.urlsplit(url)
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_path))
        server = ldap3.Server(
            parts.hostname or "127.0.0.1",
            port=parts.port,
            use_ssl=parts.scheme == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=10,
        )
        conn = ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.NTLM if ntlm else ldap3.SIMPLE,
            receive_timeout=30,
            auto_referrals=False,
            raise_exceptions=False,
        )
        if not conn.bind():
            result = conn.result
            _unbind(conn)
            raise DirectoryError(
                f"bind as {user}", result.get("result", -1), result.get("description", ""), result.get("message", "")
            )
        return conn

    def admin_connection(self, domain: Optional[str] = None) -> "_ldap3.Connection":
        """The Administrator's connection to a domain's DC (kept for the forest's life)."""
        index = self._domain_index(domain)
        conn = self._admin.get(index)
        if conn is None or conn.closed:
            d = self.domains[index]
            conn = self._connect(d.ldaps_url, f"{d.netbios}\\Administrator", self.admin_password, ntlm=False)
            self._admin[index] = conn
        return conn

    # -- cmdlets ---------------------------------------------------------------------------

    def new_computer(self, name: str, password: str, domain: Optional[str] = None) -> str:
        """New-ADComputer -Name NAME -AccountPassword ... -Enabled, as a domain join leaves
        it: ``CN=NAME,CN=Computers``, ``NAME$``, ``dNSHostName`` ``name.<domain>``,
        userAccountControl 0x1000 (workstation trust). Returns the DN; :meth:`ldap3` then binds
        as ``NAME$`` with the password."""
        index = self._domain_index(domain)
        d = self.domains[index]
        dn = f"CN={name},CN=Computers,{d.base_dn}"
        self._add(
            index,
            dn,
            {
                "objectClass": "computer",
                "sAMAccountName": f"{name}$",
                "dNSHostName": f"{name.lower()}.{d.domain}",
                "userAccountControl": "4096",
                "unicodePwd": _unicode_pwd(password),
            },
        )
        self._passwords[(d.netbios.upper(), f"{name}$".lower())] = password
        return dn

    def new_user(self, name: str, password: str, domain: Optional[str] = None) -> str:
        """New-ADUser -Name NAME -AccountPassword ... -Enabled: ``CN=NAME,CN=Users``,
        userPrincipalName ``NAME@<domain>``, userAccountControl 0x200. Returns the DN."""
        index = self._domain_index(domain)
        d = self.domains[index]
        dn = f"CN={name},CN=Users,{d.base_dn}"
        self._add(
            index,
            dn,
            {
                "objectClass": "user",
                "sAMAccountName": name,
                "userPrincipalName": f"{name}@{d.domain}",
                "userAccountControl": "512",
                "unicodePwd": _unicode_pwd(password),
            },
        )
        self._passwords[(d.netbios.upper(), name.lower())] = password
        return dn

    def new_group(self, name: str, domain: Optional[str] = None, scope: str = "global") -> str:
        """New-ADGroup -Name NAME -GroupScope global|domainlocal|universal -GroupCategory
        Security: ``CN=NAME,CN=Users``. Returns the DN."""
        # groupType: scope bit | ACCOUNT_GROUP_SECURITY_ENABLED 0x80000000 (MS-ADTS 2.2.12).
        scopes = {"global": 0x2, "domainlocal": 0x4, "universal": 0x8}
        if scope not in scopes:
            raise ValueError(f"scope {scope!r}: one of {', '.join(scopes)}")
        group_type = struct.unpack("<i", struct.pack("<I", scopes[scope] | 0x80000000))[0]
        index = self._domain_index(domain)
        dn = f"CN={name},CN=Users,{self.domains[index].base_dn}"
        self._add(index, dn, {"objectClass": "group", "sAMAccountName": name, "groupType": str(group_type)})
        return dn

    def new_service_account(
        self,
        name: str,
        dns_host_name: Optional[str] = None,
        allowed: Iterable[str] = (),
        *,
        interval_days: Optional[int] = None,
        service_principal_names: Iterable[str] = (),
        encryption_types: int = 0x1C,
        path: Optional[str] = None,
        domain: Optional[str] = None,
    ) -> str:
        """New-ADServiceAccount (a gMSA): ``CN=NAME,CN=Managed Service Accounts`` (or
        ``path``), ``NAME$``, msDS-SupportedEncryptionTypes ``encryption_types`` (the cmdlet's
        0x1C), -DNSHostName, -ManagedPasswordIntervalInDays, -ServicePrincipalNames and
        -PrincipalsAllowedToRetrieveManagedPassword (``allowed``: account or group names, see
        :meth:`ldap3` for the forms). Returns the DN."""
        index = self._domain_index(domain)
        d = self.domains[index]
        dn = f"CN={name},{path or f'CN=Managed Service Accounts,{d.base_dn}'}"
        attrs: Dict[str, Any] = {
            "objectClass": "msDS-GroupManagedServiceAccount",
            "sAMAccountName": f"{name}$",
            "msDS-SupportedEncryptionTypes": str(encryption_types),
        }
        if dns_host_name:
            attrs["dNSHostName"] = dns_host_name
        # The class requires the interval (MS-ADSC 2.140); the cmdlet writes 30 when
        # -ManagedPasswordIntervalInDays is absent or 0.
        attrs["msDS-ManagedPasswordInterval"] = str(interval_days or 30)
        spns = list(service_principal_names)
        if spns:
            attrs["servicePrincipalName"] = spns
        sids = [self._lookup(p, index)[1] for p in allowed]
        if sids:
            attrs["msDS-GroupMSAMembership"] = membership_descriptor(sids)
        self._add(index, dn, attrs)
        return dn

    def allow_password_retrieval(self, account: str, principals: Iterable[str]) -> None:
        """Set-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword: replaces
        msDS-GroupMSAMembership with a grant to each principal."""
        index, _ = self._split(account)
        dn, _ = self._lookup(account, index)
        sd = membership_descriptor([self._lookup(p, index)[1] for p in principals])
        self._modify(index, dn, {"msDS-GroupMSAMembership": [("MODIFY_REPLACE", [sd])]})

    def add_group_member(self, group: str, members: Iterable[str]) -> None:
        """Add-ADGroupMember: adds the members' DNs to the group's ``member``."""
        self._change_members(group, members, "MODIFY_ADD")

    def remove_group_member(self, group: str, members: Iterable[str]) -> None:
        """Remove-ADGroupMember."""
        self._change_members(group, members, "MODIFY_DELETE")

    def managed_password(self, account: str, principal: str) -> Optional[ManagedPassword]:
        """``account``'s msDS-ManagedPassword as ``principal`` reads it over LDAPS, parsed;
        ``None`` when the DC withholds it (the principal is not allowed)."""
        dn, _ = self._lookup(account, self._split(account)[0])
        conn = self.ldap3(principal)
        try:
            conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=["msDS-ManagedPassword"])
            if conn.result["result"] != 0:
                raise _error(f"search {dn}", conn.result)
            values = conn.response[0]["raw_attributes"].get("msDS-ManagedPassword") if conn.response else None
        finally:
            self._opened.remove(conn)
            _unbind(conn)
        return ManagedPassword.parse(values[0]) if values else None

    def test_service_account(self, account: str, host: str) -> bool:
        """Test-ADServiceAccount run on ``host``: whether the DC gives the host the account's
        managed password (the host binds with its own credentials and reads it)."""
        return self.managed_password(account, host) is not None

    # -- internals -------------------------------------------------------------------------

    def _domain_index(self, domain: Optional[str]) -> int:
        if domain is None:
            return 0
        for i, d in enumerate(self.domains):
            if domain.lower() in (d.domain.lower(), d.netbios.lower(), d.realm.lower()):
                return i
        raise LookupError(f"no domain {domain!r} in this forest ({', '.join(d.domain for d in self.domains)})")

    def _split(self, principal: str) -> Tuple[int, str]:
        """(domain index, account name) of ``name``, ``NETBIOS\\name`` or ``name@REALM``."""
        if "\\" in principal:
            netbios, name = principal.split("\\", 1)
            return self._domain_index(netbios), name
        if "@" in principal:
            name, realm = principal.rsplit("@", 1)
            return self._domain_index(realm), name
        return 0, principal

    def _lookup(self, name: str, index: int) -> Tuple[str, bytes]:
        """(DN, binary objectSid) of an account or group: a DN, ``NETBIOS\\sam``,
        ``sam@REALM`` or a bare sAMAccountName, searched as Administrator."""
        from ldap3.utils.conv import escape_filter_chars

        scope: Literal["BASE", "SUBTREE"]
        if "=" in name:
            base, scope, flt = name, "BASE", "(objectClass=*)"
            # The domain whose naming context holds the DN: the longest suffix (a child's DN
            # also ends with the root's).
            owners = [i for i, d in enumerate(self.domains) if name.lower().endswith(d.base_dn.lower())]
            if owners:
                index = max(owners, key=lambda i: len(self.domains[i].base_dn))
        else:
            index, sam = self._split(name) if ("\\" in name or "@" in name) else (index, name)
            base, scope, flt = self.domains[index].base_dn, "SUBTREE", f"(sAMAccountName={escape_filter_chars(sam)})"
        conn = self.admin_connection(self.domains[index].domain)
        conn.search(base, flt, search_scope=scope, attributes=["objectSid"])
        if conn.result["result"] not in (0, 32):
            raise _error(f"search {base} {flt}", conn.result)
        found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(found) != 1 or not found[0]["raw_attributes"].get("objectSid"):
            raise LookupError(f"cannot find an object with identity: '{name}'")
        return found[0]["dn"], found[0]["raw_attributes"]["objectSid"][0]

    def _change_members(self, group: str, members: Iterable[str], op: str) -> None:
        index, _ = self._split(group)
        group_dn, _ = self._lookup(group, index)
        dns = [self._lookup(m, index)[0] for m in members]
        self._modify(index, group_dn, {"member": [(op, dns)]})

    def _add(self, index: int, dn: str, attrs: Dict[str, Any]) -> None:
        conn = self.admin_connection(self.domains[index].domain)
        object_class = attrs.pop("objectClass")
        if not conn.add(dn, object_class, attrs):  # type: ignore[no-untyped-call]
            raise _error(f"add {dn}", conn.result)

    def _modify(self, index: int, dn: str, changes: Dict[str, Any]) -> None:
        conn = self.admin_connection(self.domains[index].domain)
        if not conn.modify(dn, changes):  # type: ignore[no-untyped-call]
            raise _error(f"modify {dn}", conn.result)


def _error(operation: str, result: Dict[str, Any]) -> DirectoryError:
    return DirectoryError(operation, result.get("result", -1), result.get("description", ""), result.get("message", ""))


def _unicode_pwd(password: str) -> bytes:
    """A unicodePwd value: the password in double quotes, UTF-16LE (MS-ADTS 3.1.1.3.1.5.1)."""
    return f'"{password}"'.encode("utf-16-le")


def _unbind(conn: "_ldap3.Connection") -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - a connection the server already closed
        pass


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
