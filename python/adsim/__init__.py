"""adsim: an Active Directory domain-controller simulator for CI, from Python.

The wheel (``pip install adsim-dc``) puts the ``adsim`` binary on ``PATH``; this package adds
:class:`Control` (the HTTP control API's client), :class:`Server` (``adsim serve`` on free
ports), :class:`Forest` (endpoints, bound ldap3 connections, cmdlet-like helpers) and the pytest
plugin :mod:`adsim.pytest_plugin` (fixtures ``adsim_forest`` and ``adsim_ldap3``).
"""

from ._control import Clock, Control, ControlError, Duration, Snapshot, parse_duration
from ._forest import DEFAULT_ADMIN_PASSWORD, DirectoryError, Domain, Forest, ForestClock, membership_descriptor
from ._server import STANDARD_PORTS, ServeOptions, Server, ServerError, binary_path
from .gmsa import ManagedPassword, nt_hash

__all__ = [
    "Clock",
    "Control",
    "ControlError",
    "DEFAULT_ADMIN_PASSWORD",
    "DirectoryError",
    "Domain",
    "Duration",
    "Forest",
    "ForestClock",
    "ManagedPassword",
    "STANDARD_PORTS",
    "ServeOptions",
    "Server",
    "ServerError",
    "Snapshot",
    "binary_path",
    "membership_descriptor",
    "nt_hash",
    "parse_duration",
]
