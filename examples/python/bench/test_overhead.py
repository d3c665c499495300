"""Tests that do a little each (one LDAP add, so every restore has something to undo), with and
without adsim's fixtures; the conftest times the fixtures. Not part of the example's suite."""

from __future__ import annotations

import time

import pytest

from adsim import Forest

from conftest import OPTIONS, record

N = 200


def test_session_start(adsim_forest: Forest, _adsim_forests) -> None:
    # The first test pays the session's start: adsim serve to ready, the client, the baseline.
    OPTIONS.append(adsim_forest.server.options)
    record("session start (adsim_forest, first use)", _adsim_forests.start_seconds[0])
    record("  of which adsim serve to ready line", adsim_forest.server.start_seconds)
    began = time.perf_counter()
    adsim_forest.admin_connection()
    record("  Administrator's LDAPS connection (once)", time.perf_counter() - began)


@pytest.mark.warm
@pytest.mark.parametrize("i", range(N))
def test_with_forest(adsim_forest: Forest, i: int) -> None:
    adsim_forest.new_user(f"user{i}", "User-Passw0rd!")


@pytest.mark.warm
@pytest.mark.parametrize("i", range(N // 4))
def test_with_ldap3(adsim_forest: Forest, adsim_ldap3, i: int) -> None:
    began = time.perf_counter()
    conn = adsim_ldap3("WEB01$")
    record("adsim_ldap3('WEB01$'): NTLM bind over LDAPS", time.perf_counter() - began)
    assert conn.bound


@pytest.mark.warm
@pytest.mark.parametrize("i", range(N))
def test_without_forest(i: int) -> None:
    assert i >= 0
