"""How a gMSA consumer is tested with adsim's pytest plugin.

``adsim_forest`` is a running forest (seeded, clock frozen at 2026-01-05 10:00 UTC, WEB01,
WEB02 and the WebHosts group loaded from fixtures/hosts.ldif: see pyproject.toml), restored
after every test; ``adsim_ldap3(principal)`` is a bound ldap3 connection as that principal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from webapp.gmsa import current_nt_hash, fetch_managed_password

from adsim import DirectoryError, Forest, nt_hash

GMSA = "svc-web$"


@pytest.fixture
def svc_web(adsim_forest: Forest) -> str:
    """The gMSA svc-web$, whose password only WEB01$ may retrieve (New-ADServiceAccount
    svc-web -DNSHostName svc-web.corp.example.test -PrincipalsAllowedToRetrieveManagedPassword
    WEB01$)."""
    return adsim_forest.new_service_account(
        "svc-web",
        dns_host_name="svc-web.corp.example.test",
        allowed=["WEB01$"],
        service_principal_names=["HTTP/svc-web.corp.example.test"],
    )


def test_an_allowed_host_reads_the_password_and_derives_the_nt_hash(adsim_forest, adsim_ldap3, svc_web):
    # WEB01 binds with its own credentials over LDAPS, as the service host does.
    web01 = adsim_ldap3("WEB01$")
    blob = fetch_managed_password(web01, adsim_forest.base_dn, GMSA)
    assert blob is not None
    assert len(blob.current) == 256 and blob.previous is None
    # The NT hash the host derives is the key the KDC holds for the account (its rc4-hmac
    # key in adsim's keytab export): a service using it authenticates.
    assert nt_hash(blob.current) == adsim_forest.nt_hash(GMSA)
    assert adsim_forest.test_service_account(GMSA, "WEB01$")


def test_a_30_day_advance_rotates_the_password(adsim_forest, adsim_ldap3, svc_web):
    web01 = adsim_ldap3("WEB01$")
    day0 = fetch_managed_password(web01, adsim_forest.base_dn, GMSA)
    assert day0 is not None

    adsim_forest.clock.advance("30d")  # the default msDS-ManagedPasswordInterval

    day30 = fetch_managed_password(web01, adsim_forest.base_dn, GMSA)
    assert day30 is not None
    assert day30.current != day0.current
    assert day30.previous == day0.current  # the old password stays valid as the previous one
    assert day30.current_nt_hash == adsim_forest.nt_hash(GMSA)


def test_a_host_not_allowed_gets_nothing(adsim_forest, adsim_ldap3, svc_web):
    web02 = adsim_ldap3("WEB02$")
    assert current_nt_hash(web02, adsim_forest.base_dn, GMSA) is None
    assert not adsim_forest.test_service_account(GMSA, "WEB02$")


def test_a_host_joining_the_allowed_group_gets_it(adsim_forest, adsim_ldap3, svc_web):
    adsim_forest.allow_password_retrieval(GMSA, ["WebHosts"])
    assert not adsim_forest.test_service_account(GMSA, "WEB01$")  # WEB01$ itself is no longer named
    adsim_forest.add_group_member("WebHosts", ["WEB02$"])
    # A new bind: group memberships are evaluated when the host authenticates.
    assert current_nt_hash(adsim_ldap3("WEB02$"), adsim_forest.base_dn, GMSA) == adsim_forest.nt_hash(GMSA)


def test_a_refused_add_returns_the_servers_error(adsim_forest, svc_web):
    with pytest.raises(DirectoryError) as refused:
        adsim_forest.new_service_account("svc-web", dns_host_name="svc-web.corp.example.test")
    assert refused.value.result == 68  # entryAlreadyExists, with AD's diagnostic text
    assert refused.value.message.startswith("00002071")


def test_a_new_computer_binds_with_its_password(adsim_forest, adsim_ldap3, svc_web):
    adsim_forest.new_computer("WEB03", "Web03-Machine-Passw0rd!")
    adsim_forest.add_group_member("WebHosts", ["WEB03$"])
    adsim_forest.allow_password_retrieval(GMSA, ["WebHosts", "WEB01$"])
    web03 = adsim_ldap3("WEB03$", "Web03-Machine-Passw0rd!")
    assert web03.extend.standard.who_am_i() == "u:CORP\\WEB03$"
    assert current_nt_hash(web03, adsim_forest.base_dn, GMSA) == adsim_forest.nt_hash(GMSA)


@pytest.mark.adsim(kds_root_key="none", seed=7)
def test_without_a_usable_kds_root_key_the_dc_refuses_the_gmsa(adsim_forest, adsim_ldap3):
    # A forest of its own (the marker's options differ from pyproject.toml's): no KDS root key.
    def new_gmsa() -> str:
        return adsim_forest.new_service_account(
            "svc-web", dns_host_name="svc-web.corp.example.test", allowed=["WEB01$"]
        )

    with pytest.raises(DirectoryError) as refused:
        new_gmsa()
    assert refused.value.result == 53 and "Key does not exist" in refused.value.message
    # Add-KdsRootKey -EffectiveImmediately: a new gMSA still waits for the key to replicate,
    # 10 h 05 min in adsim (docs/fidelity.md); the simulated clock skips the wait.
    adsim_forest.add_root_key("immediately")
    with pytest.raises(DirectoryError):
        new_gmsa()
    adsim_forest.clock.advance("10h05m")
    new_gmsa()
    assert current_nt_hash(adsim_ldap3("WEB01$"), adsim_forest.base_dn, GMSA) == adsim_forest.nt_hash(GMSA)


@pytest.mark.skipif(shutil.which("kinit") is None, reason="MIT kinit not installed")
def test_the_gmsa_gets_a_ticket_with_its_keytab(adsim_forest, svc_web, tmp_path):
    # kinit checks the KDC's time against the host's: move the simulated clock (frozen at
    # 2026-01-05) to now. Moving it past the password interval rotates the gMSA's keys, so the
    # keytab is exported after the move.
    adsim_forest.clock.set(datetime.now(timezone.utc))
    keytab = adsim_forest.keytab_file(GMSA, tmp_path / "svc-web.keytab")
    env = dict(os.environ, KRB5_CONFIG=str(adsim_forest.krb5_conf), KRB5CCNAME=f"FILE:{tmp_path}/cc")
    run = subprocess.run(
        ["kinit", "-kt", str(keytab), f"{GMSA}@{adsim_forest.realm}"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    listing = subprocess.run(["klist"], env=env, capture_output=True, text=True).stdout
    assert f"krbtgt/{adsim_forest.realm}@{adsim_forest.realm}" in listing


def test_every_test_starts_from_the_same_forest(adsim_forest):
    # Whatever ran before on this worker (gMSAs, group changes, 30 days, bind policies) was undone.
    assert adsim_forest.clock.now() == datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    with pytest.raises(LookupError):
        adsim_forest.test_service_account(GMSA, "WEB01$")
    members = adsim_forest.admin_connection()
    members.search(f"CN=WebHosts,CN=Users,{adsim_forest.base_dn}", "(objectClass=*)", "BASE", attributes=["member"])
    assert members.response[0]["raw_attributes"].get("member", []) == []
    assert adsim_forest.control.policies()["ldap_signing"] == "none"
