#!/usr/bin/env bash
# Installs what the tests need (Debian packages and Python clients), then runs every test.
# Usage: ./scripts/test.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Real clients the end-to-end tests drive: OpenLDAP's tools, MIT Kerberos, libfaketime, BIND's
# dig (dnsutils), adcli (DNS and the CLDAP ping) and msktutil (a computer created by an
# administrator).
need_apt=""
# sssd (its AD provider: scripts/sssd-ad.sh below), realmd and the system D-Bus daemon (realm
# discover), all run by tests/e2e_join.rs inside a private mount namespace.
for tool in ldapsearch kinit faketime dig adcli msktutil sssd realm dbus-daemon; do
  command -v "$tool" >/dev/null 2>&1 || need_apt=1
done
# Cyrus SASL's GSSAPI plugin (ldapsearch -Y GSSAPI), nss_wrapper (the DC's name for GSSAPI) and
# MIT's headers (krb5-config), which gmsad's python-gssapi dependency builds against.
for pkg in libsasl2-modules-gssapi-mit libnss-wrapper libkrb5-dev sssd-ldap sssd-krb5-common libnss-sss sssd-tools; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt=1
done
# `python3 -m venv` (scripts/test-python.sh) needs ensurepip: Debian's python3-venv.
venv_pkg=""
python3 -c 'import ensurepip' 2>/dev/null || { need_apt=1; venv_pkg=python3-venv; }
if [ -n "$need_apt" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    ldap-utils krb5-user libfaketime faketime dnsutils adcli msktutil libsasl2-modules-gssapi-mit libnss-wrapper libkrb5-dev \
    sssd-common sssd-ldap sssd-krb5-common libnss-sss sssd-tools realmd dbus $venv_pkg >/dev/null
fi

# The live peer of tests/peer_samba.rs: Samba 4.22 from bookworm-backports, installed by the
# project's own script (nothing to do once installed). The tests run as root only; when the
# suite cannot be reached (exit 3) they say so and skip.
peer_status=0
$SUDO ./scripts/samba-peer.sh --install-only || peer_status=$?
case $peer_status in
  0) ;;
  3) echo "test.sh: no Samba 4.22 peer (bookworm-backports unreachable); tests/peer_samba.rs will skip" >&2 ;;
  *) echo "test.sh: scripts/samba-peer.sh --install-only failed (exit $peer_status)" >&2; exit "$peer_status" ;;
esac

# sssd's AD provider: from apt, or (beside Samba 4.22, whose samba-libs Breaks sssd-ad 2.8)
# unpacked with the Samba 4.17 libraries it links into /var/cache/adsim/sssd-ad, never installed.
sssd_status=0
$SUDO ./scripts/sssd-ad.sh || sssd_status=$?
case $sssd_status in
  0) ;;
  3) echo "test.sh: no sssd AD provider (no bookworm samba-libs to pair it with); tests/e2e_join.rs will fail" >&2 ;;
  *) echo "test.sh: scripts/sssd-ad.sh failed (exit $sssd_status)" >&2; exit "$sssd_status" ;;
esac

# Python clients: ldap3 (schema loading, LDAP; pycryptodome gives it MD4 for NTLM), impacket
# and minikerberos (Kerberos), and the gMSA consumers msldap, bloodyAD and gmsad.
python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt

# Both suites run whatever the other's outcome; either failing fails the script.
status=0
cargo test --workspace --no-fail-fast "$@" || status=$?
# The Python package: the adsim-dc wheel in a fresh venv, examples/python with pytest.
./scripts/test-python.sh || status=$?
exit "$status"
