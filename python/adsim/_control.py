"""A client of adsim's HTTP control API (``adsim serve --control-port``).

Standard library only (``http.client``), one kept-alive connection per client, so a call costs
one round trip on loopback. The routes are those of ``simulator/src/server/control.rs``; the
API takes a state-changing request only with ``Content-Type: application/json`` and refuses a
``Host`` that is not its listener's address (both are what this client sends).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type, TypeVar, Union, cast

__all__ = [
    "Clock",
    "Control",
    "ControlError",
    "Duration",
    "Snapshot",
    "parse_duration",
]

#: A clock step: seconds, a :class:`datetime.timedelta`, or text such as ``"30d"``,
#: ``"10h05m"``, ``"-6m"`` or ``"2w"`` (the syntax of ``adsim ctl clock --advance``).
Duration = Union[int, timedelta, str]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(value: Duration) -> int:
    """Seconds of a :data:`Duration`.

    >>> parse_duration("30d"), parse_duration("-6m"), parse_duration("10h05m"), parse_duration(45)
    (2592000, -360, 36300, 45)
    """
    if isinstance(value, bool):
        raise TypeError("a duration is seconds, a timedelta or text such as '30d'")
    if isinstance(value, int):
        return value
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    text = value.strip()
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text.isdigit():
        return sign * int(text)
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"duration {value!r}: expected numbers with units s, m, h, d or w, e.g. '30d'")
    return sign * sum(int(n) * _UNITS[u] for n, u in parts)


def _rfc3339(value: Union[datetime, str]) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous: give it a tzinfo (e.g. timezone.utc)")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


_T = TypeVar("_T")


def _pick(cls: Type[_T], fields: Mapping[str, Any]) -> _T:
    """``cls`` from the answer's fields it knows (newer servers may add fields)."""
    names = cls.__dataclass_fields__.keys()  # type: ignore[attr-defined]
    return cls(**{k: v for k, v in fields.items() if k in names})


def _parse_time(text: str) -> datetime:
    # fromisoformat takes "Z" only from Python 3.11; nanoseconds never.
    text = text.replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if m and m.group(2):
        text = m.group(1) + m.group(2)[:7] + m.group(3)
    return datetime.fromisoformat(text)


class ControlError(Exception):
    """A failed control-API call: ``status`` is the HTTP status (``None`` when the server could
    not be reached) and ``message`` the server's ``{"error": ...}`` text."""

    def __init__(self, status: Optional[int], message: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        if status is None:
            super().__init__(f"{where}{message}")
        else:
            super().__init__(f"{where}control API answered {status}: {message}")


@dataclass(frozen=True)
class Clock:
    """The simulated clock (``GET``/``POST /v1/clock``)."""

    #: The simulated time, RFC 3339.
    now: str
    #: The same instant in 100 ns ticks since 1601 (AD's FILETIME/NTTIME).
    nttime: int
    #: Simulated time minus the host's, in seconds.
    offset_seconds: int
    #: Whether the clock stands still (``--start-time``).
    frozen: bool

    @property
    def datetime(self) -> datetime:
        """:attr:`now` as an aware :class:`datetime.datetime`."""
        return _parse_time(self.now)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot the server holds (``POST``/``GET /v1/snapshots``)."""

    id: str
    #: The simulated time it was taken at, RFC 3339.
    time: Optional[str] = None
    #: Number of entries (listings only).
    entries: Optional[int] = None
    #: The file the server also wrote it to (``snapshot(path=...)`` only).
    path: Optional[str] = None


class Control:
    """The control API at ``url`` (the ready line's ``control_url``, ``http://host:port``).

    Every method raises :class:`ControlError` on a non-2xx answer, with the server's message.
    A client may be shared between threads (calls are serialised).

    >>> api = Control("http://127.0.0.1:8389")        # doctest: +SKIP
    >>> api.advance("30d").now                         # doctest: +SKIP
    '2026-02-04T10:00:00Z'
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"control URL {url!r} must start with http://")
        if not parts.hostname:
            raise ValueError(f"control URL {url!r} has no host")
        self.url = url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()
        #: Set when a request through this client changed the bind policies (``PUT
        #: /v1/policies``), which snapshots do not hold; whoever restores clears it.
        self.policies_changed = False

    def __repr__(self) -> str:
        return f"Control({self.url!r})"

    def close(self) -> None:
        """Closes the kept-alive connection (the next call opens another)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "Control":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Optional[Any] = None, *, raw_body: Optional[bytes] = None
    ) -> Tuple[int, bytes]:
        """One request whatever the answer's status: ``(status, body)``. ``path`` starts with
        ``/`` and may carry a query; ``body`` is sent as JSON (``raw_body`` as given). Every
        method but GET and HEAD is sent as ``application/json``, as the API requires."""
        headers: Dict[str, str] = {}
        data: Optional[bytes] = raw_body
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None or method not in ("GET", "HEAD"):
            headers["Content-Type"] = "application/json"
        target = self._prefix + path
        if method == "PUT" and path.split("?")[0] == "/v1/policies":
            self.policies_changed = True
        with self._lock:
            # A kept-alive connection the server closed meanwhile fails on first use: the
            # request never reached the server, so it is sent once more on a new connection.
            for attempt in (0, 1):
                reused = self._conn is not None
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
                conn = self._conn
                try:
                    conn.request(method, target, body=data, headers=headers)
                    answer = conn.getresponse()
                    payload = answer.read()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                    conn.close()
                    self._conn = None
                    if reused and attempt == 0:
                        continue
                    raise ControlError(None, f"connection to {self._host}:{self._port} lost: {e}", method, path) from e
                except OSError as e:
                    conn.close()
                    self._conn = None
                    raise ControlError(
                        None, f"cannot reach the control API at {self._host}:{self._port}: {e}", method, path
                    ) from e
                if answer.will_close:
                    conn.close()
                    self._conn = None
                return answer.status, payload
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: Optional[Any] = None) -> bytes:
        status, payload = self.request(method, path, body)
        if not 200 <= status < 300:
            try:
                message = json.loads(payload)["error"]
            except (ValueError, KeyError, TypeError):
                message = payload.decode("utf-8", "replace")
            raise ControlError(status, message, method, path)
        return payload

    def _json(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        payload = self._call(method, path, body)
        try:
            return json.loads(payload)
        except ValueError as e:
            raise ControlError(None, f"control API answered non-JSON: {e}", method, path) from e

    # -- routes ----------------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """``GET /v1/health``: status, root domain, realm, simulated time."""
        return cast(Dict[str, Any], self._json("GET", "/v1/health"))

    def ready(self) -> Dict[str, Any]:
        """``GET /v1/ready``: the ready line (every DC's endpoints) and the CA as ``ca_pem``."""
        return cast(Dict[str, Any], self._json("GET", "/v1/ready"))

    def clock(self) -> Clock:
        """``GET /v1/clock``."""
        return _pick(Clock, self._json("GET", "/v1/clock"))

    def advance(self, step: Duration) -> Clock:
        """Moves the simulated clock by ``step`` (``"30d"``, ``-360``, ``timedelta(hours=1)``)."""
        return _pick(Clock, self._json("POST", "/v1/clock", {"advance_seconds": parse_duration(step)}))

    def set_clock(self, when: Union[datetime, str]) -> Clock:
        """Sets the simulated clock to ``when`` (an aware datetime or RFC 3339 text)."""
        return _pick(Clock, self._json("POST", "/v1/clock", {"set": _rfc3339(when)}))

    def add_root_key(self, effective: Union[datetime, str] = "immediately") -> str:
        """Add-KdsRootKey: ``"immediately"`` (-EffectiveImmediately; usable after the DC's
        10-hour wait) or an instant (-EffectiveTime). Returns the key's id."""
        return str(self._json("POST", "/v1/kds/root-keys", {"effective": _rfc3339(effective)})["id"])

    def krb5_conf(self, relations: Optional[Mapping[str, str]] = None, **more: str) -> str:
        """krb5.conf for the forest; ``relations`` (and keyword arguments) add ``[libdefaults]``
        lines, e.g. ``krb5_conf(rdns="false")``."""
        pairs = list((relations or {}).items()) + list(more.items())
        query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        return self._call("GET", "/v1/krb5.conf" + (f"?{query}" if query else "")).decode()

    def keytab(self, principal: str) -> bytes:
        """An MIT keytab (bytes) with every key of ``principal`` (``WEB01$``,
        ``HTTP/web01.corp.example.test``, ``alice@CORP.EXAMPLE.TEST``...)."""
        return self._call("GET", "/v1/keytab?principal=" + urllib.parse.quote(principal, safe=""))

    def export_ldif(self) -> str:
        """The whole directory as LDIF (deterministic; no secrets)."""
        return self._call("GET", "/v1/export.ldif").decode()

    def snapshots(self) -> List[Snapshot]:
        """The snapshots held, oldest first."""
        return [_pick(Snapshot, s) for s in self._json("GET", "/v1/snapshots")["snapshots"]]

    def snapshot(self, path: Optional[str] = None) -> Snapshot:
        """Takes a snapshot (O(1): the directory is persistent). With ``path`` (a plain file
        name) the server also writes it into its snapshot directory."""
        return _pick(Snapshot, self._json("POST", "/v1/snapshots", {"path": path} if path else {}))

    def restore(self, snapshot: Union[Snapshot, str]) -> None:
        """Puts the forest back as it was when ``snapshot`` was taken (clock included); the
        snapshot stays, so it can be restored again."""
        sid = snapshot.id if isinstance(snapshot, Snapshot) else snapshot
        self._call("POST", f"/v1/snapshots/{urllib.parse.quote(sid, safe='')}/restore", {})

    def delete_snapshot(self, snapshot: Union[Snapshot, str]) -> None:
        """Forgets a snapshot."""
        sid = snapshot.id if isinstance(snapshot, Snapshot) else snapshot
        self._call("DELETE", f"/v1/snapshots/{urllib.parse.quote(sid, safe='')}")

    def snapshot_file(self, snapshot: Union[Snapshot, str]) -> bytes:
        """A snapshot's file (``adsim serve --from-snapshot FILE``); it holds every secret."""
        sid = snapshot.id if isinstance(snapshot, Snapshot) else snapshot
        return self._call("GET", f"/v1/snapshots/{urllib.parse.quote(sid, safe='')}/file")

    def policies(self) -> Dict[str, Any]:
        """``GET /v1/policies``: the DC's bind policies (``ldap_signing``, ``channel_binding``)."""
        return cast(Dict[str, Any], self._json("GET", "/v1/policies"))

    def set_policies(self, **changes: str) -> Dict[str, Any]:
        """``PUT /v1/policies``: changes the named policies, e.g.
        ``set_policies(ldap_signing="required", channel_binding="always")``; binds completed from
        then on follow them. Returns the policies now in force."""
        return cast(Dict[str, Any], self._json("PUT", "/v1/policies", changes))

    def reset(self) -> None:
        """Puts the forest back as it was right after start (fixtures loaded)."""
        self._call("POST", "/v1/reset", {})
