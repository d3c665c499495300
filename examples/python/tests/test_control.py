"""The control API from Python: ``adsim_forest.control`` is an ``adsim.Control``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adsim import Control, ControlError, DirectoryError, Forest, parse_duration
from adsim.keytab import ETYPE_AES256, ETYPE_RC4, parse


def test_the_clock_moves_and_snapshots_restore_it(adsim_forest: Forest):
    api = adsim_forest.control
    assert api.clock().frozen  # adsim_start_time freezes it
    mark = api.snapshot()
    moved = api.advance(timedelta(hours=1, minutes=30))
    assert moved.datetime == datetime(2026, 1, 5, 11, 30, tzinfo=timezone.utc)
    api.set_clock(datetime(2027, 1, 1, tzinfo=timezone.utc))
    api.restore(mark)
    assert adsim_forest.clock.now() == datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    assert mark.id in [s.id for s in api.snapshots()]
    api.delete_snapshot(mark)


def test_errors_carry_the_servers_status_and_message(adsim_forest: Forest):
    with pytest.raises(ControlError) as unknown:
        adsim_forest.control.restore("snap-999999")
    assert unknown.value.status == 404 and "snap-999999" in unknown.value.message
    with pytest.raises(ControlError) as no_keys:
        adsim_forest.keytab("nobody$")
    assert no_keys.value.status == 404
    # Any route, any status: the raw request (the body is sent as application/json).
    status, body = adsim_forest.control.request("POST", "/v1/clock", raw_body=b"{not json")
    assert status == 400 and b"invalid JSON body" in body


def test_an_absent_server_is_unreachable(adsim_forest: Forest):
    # A client for a port nothing listens on: the error names the address, no status.
    with pytest.raises(ControlError) as e:
        Control("http://127.0.0.1:1").health()
    assert e.value.status is None and "127.0.0.1:1" in str(e.value)


def test_exports_keytabs_and_krb5_conf(adsim_forest: Forest):
    entries = parse(adsim_forest.keytab("WEB01$"))
    assert {e.etype for e in entries} >= {ETYPE_AES256, ETYPE_RC4}
    assert entries[0].principal == f"WEB01$@{adsim_forest.realm}"
    conf = adsim_forest.control.krb5_conf(rdns="false")
    assert f"default_realm = {adsim_forest.realm}" in conf and "rdns = false" in conf
    assert adsim_forest.control.health()["realm"] == adsim_forest.realm


@pytest.mark.parametrize(
    "text, seconds",
    [("30d", 30 * 86_400), ("10h05m", 36_300), ("-6m", -360), ("+2w", 14 * 86_400), ("45", 45)],
)
def test_durations_use_adsim_ctl_syntax(text: str, seconds: int):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "d", "6y", "1.5h", "--6m"])
def test_malformed_durations_are_refused(bad: str):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_bind_policies_change_at_run_time(adsim_forest: Forest, adsim_ldap3):
    api = adsim_forest.control
    assert api.set_policies(ldap_signing="required")["ldap_signing"] == "required"
    # A simple bind on plain LDAP is now refused (strongerAuthRequired); LDAPS still binds.
    with pytest.raises(DirectoryError) as refused:
        adsim_ldap3(url=adsim_forest.ldap_url)
    assert refused.value.result == 8
    assert adsim_ldap3().bound
    # Policies are the DC's, not the directory's: no snapshot holds them, so the fixture puts
    # back the start's after a test that changed them (see test_every_test_starts_...).
