"""Starting and stopping ``adsim serve``: the binary the wheel installs, free ports, the ready
line, the server's stderr kept in a file for failure reports."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

__all__ = ["ServeOptions", "Server", "ServerError", "binary_path", "STANDARD_PORTS"]

#: AD's ports, used with ``ServeOptions(standard_ports=True)``: LDAP, LDAPS, GC, GC over TLS, KDC.
STANDARD_PORTS = {"ldap": 389, "ldaps": 636, "gc": 3268, "gcs": 3269, "kdc": 88, "kpasswd": 464}

#: How long ``adsim serve`` may take to print its ready line.
START_TIMEOUT = 60.0


class ServerError(RuntimeError):
    """``adsim serve`` could not start or stopped; the message ends with its stderr tail."""


def binary_path() -> str:
    """The ``adsim`` executable: ``$ADSIM_BINARY``, else the one installed next to this
    interpreter's scripts (where the wheel puts it), else the first on ``PATH``."""
    env = os.environ.get("ADSIM_BINARY")
    if env:
        return env
    for scheme_dir in (sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")):
        if scheme_dir:
            candidate = Path(scheme_dir) / "adsim"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("adsim")
    if found:
        return found
    raise ServerError("no adsim binary: pip install adsim-dc, put adsim on PATH or set ADSIM_BINARY")


@dataclass(frozen=True)
class ServeOptions:
    """What ``adsim serve`` is started with (hashable: equal options share one server).

    ``fixtures`` are LDIF files loaded at start; ``topology`` is a forest in TOML (it replaces
    ``domain``, ``children``, ``netbios``, ``seed``, ``start_time`` and ``kds_root_key``).
    """

    #: DNS name of the forest root domain.
    domain: str = "corp.example.test"
    #: Child domain labels (``("emea",)`` adds ``emea.<domain>`` with its own DC).
    children: Tuple[str, ...] = ()
    #: NetBIOS name of the root domain (default: the first label, upper-cased).
    netbios: Optional[str] = None
    #: Seed for SIDs, GUIDs and secrets: the same seed gives the same forest.
    seed: Optional[int] = None
    #: Freeze the simulated clock at this RFC 3339 instant.
    start_time: Optional[str] = None
    #: KDS root key at start: ``backdated`` (usable at once), ``immediate`` (usable 10 h after
    #: start, as -EffectiveImmediately) or ``none``.
    kds_root_key: str = "backdated"
    #: LDIF files to load at start, in order.
    fixtures: Tuple[str, ...] = ()
    #: A forest in TOML (``--topology``).
    topology: Optional[str] = None
    #: Every domain's Administrator password (default: adsim's, ``Adsim-Passw0rd!``).
    admin_password: Optional[str] = None
    #: Serve AD's standard ports (389, 636, 3268, 3269, 88) on ``listen``: needs root and a
    #: loopback alias of its own (e.g. 127.0.0.2) so parallel servers do not clash.
    standard_ports: bool = False
    #: Address every listener binds to.
    listen: str = "127.0.0.1"
    #: More ``adsim serve`` arguments (``("--dc-profile", "2025")``).
    extra_args: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Lists given by callers become tuples, so options stay hashable.
        for name in ("children", "fixtures", "extra_args"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if self.kds_root_key not in ("backdated", "immediate", "none"):
            raise ValueError(f"kds_root_key {self.kds_root_key!r}: one of backdated, immediate, none")

    def arguments(self, state_dir: Union[str, Path]) -> List[str]:
        """``adsim serve``'s arguments for these options, with its state in ``state_dir``."""
        if self.standard_ports:
            ports = dict(STANDARD_PORTS)
        else:
            ports = {k: 0 for k in STANDARD_PORTS}
        args = [
            "serve",
            "--listen", self.listen,
            "--ldap-port", str(ports["ldap"]),
            "--ldaps-port", str(ports["ldaps"]),
            "--gc-port", str(ports["gc"]),
            "--gcs-port", str(ports["gcs"]),
            "--kdc-port", str(ports["kdc"]),
            "--kpasswd-port", str(ports["kpasswd"]),
            "--control-port", "0",
            "--dns-port", "0",
            "--state-dir", str(state_dir),
        ]  # fmt: skip
        if self.topology:
            args += ["--topology", self.topology]
        else:
            args += ["--domain", self.domain, "--kds-root-key", self.kds_root_key]
            for child in self.children:
                args += ["--child-domain", child]
            if self.netbios:
                args += ["--netbios", self.netbios]
            if self.seed is not None:
                args += ["--seed", str(self.seed)]
            if self.start_time:
                args += ["--start-time", self.start_time]
        for fixture in self.fixtures:
            args += ["--fixture", fixture]
        return args + list(self.extra_args)


@dataclass
class Server:
    """A running ``adsim serve`` process. Use :meth:`start`; :meth:`stop` (or ``with``) ends it."""

    options: ServeOptions
    process: "subprocess.Popen[bytes]"
    #: The ready line, parsed (``ldap_url``, ``ldaps_url``, ``kdc``, ``control_url``, ``ca_cert``,
    #: ``realm``, ``base_dn``, ``domains``...).
    ready: Dict[str, Any]
    #: The server's state directory (CA certificate, snapshot files, the stderr log).
    state_dir: Path
    #: Seconds from spawning the process to its ready line.
    start_seconds: float
    _owned_dir: "Optional[tempfile.TemporaryDirectory[str]]" = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        options: Optional[ServeOptions] = None,
        binary: Optional[str] = None,
        state_dir: Optional[Union[str, Path]] = None,
        timeout: float = START_TIMEOUT,
        env: Optional[Dict[str, str]] = None,
    ) -> "Server":
        """Starts ``adsim serve`` on free ports and waits for its ready line."""
        options = options or ServeOptions()
        owned = None
        if state_dir is None:
            owned = tempfile.TemporaryDirectory(prefix="adsim-")
            state_dir = owned.name
        state = Path(state_dir)
        state.mkdir(parents=True, exist_ok=True)
        child_env = dict(os.environ if env is None else env)
        if options.admin_password:
            # Through the environment, not argv: other users can read a process's arguments.
            child_env["ADSIM_ADMIN_PASSWORD"] = options.admin_password
        stderr_path = state / "adsim.stderr.log"
        began = time.monotonic()
        with open(stderr_path, "wb") as stderr:
            try:
                process = subprocess.Popen(
                    [binary or binary_path(), *options.arguments(state)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=child_env,
                    start_new_session=True,  # a Ctrl-C in pytest's terminal is pytest's alone
                )
            except OSError as e:
                if owned:
                    owned.cleanup()
                raise ServerError(f"cannot run adsim: {e}") from e
        assert process.stdout is not None
        try:
            line = _read_line(process, timeout)
            ready = json.loads(line)
            if ready.get("event") != "ready":
                raise ValueError(f"unexpected first line {line[:200]!r}")
        except (ValueError, ServerError) as e:
            _terminate(process)
            message = f"adsim serve did not become ready: {e}\n{_tail(stderr_path)}"
            if owned:
                owned.cleanup()
            raise ServerError(message) from None
        return cls(options, process, ready, state, time.monotonic() - began, owned)

    @property
    def stderr_path(self) -> Path:
        """The file the server's stderr (its log) goes to."""
        return self.state_dir / "adsim.stderr.log"

    def stderr_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's log."""
        return _tail(self.stderr_path, lines)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; removes a temporary state dir."""
        _terminate(self.process, timeout)
        if self.process.stdout:
            self.process.stdout.close()
        if self._owned_dir is not None:
            self._owned_dir.cleanup()
            self._owned_dir = None

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(process: "subprocess.Popen[bytes]", timeout: float) -> str:
    """The first stdout line, without blocking past ``timeout`` or past the process's exit."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError(f"no ready line within {timeout:.0f} s")
            if not sel.select(min(left, 0.5)):
                if process.poll() is not None:
                    raise ServerError(f"adsim exited with status {process.returncode}")
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                process.wait(timeout=5)
                raise ServerError(f"adsim exited with status {process.returncode}")
            buf += chunk
            if len(buf) > 1 << 20:
                raise ServerError("ready line longer than 1 MiB")
    return buf.split(b"\n", 1)[0].decode()


def _terminate(process: "subprocess.Popen[bytes]", timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no server log)"
    tail = text.splitlines()[-lines:]
    return "adsim serve stderr (last {} lines):\n{}".format(len(tail), "\n".join(tail))

