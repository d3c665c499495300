#!/usr/bin/env bash
# sssd's Active Directory provider for tests/e2e_join.rs, on a machine that also has Samba 4.22
# (bookworm-backports, the peer of tests/peer_samba.rs and benches).
#
# Debian 12's sssd (2.8) installs from apt except its AD provider: sssd-ad and sssd-ad-common
# depend on samba-libs, and samba-libs 4.22 declares `Breaks: sssd-ad (<< 2.9.4-1+b1)` because
# sssd-ad 2.8's libsss_ad.so links Samba 4.17's libndr.so.3 (4.22 ships libndr.so.6, whose
# ABI differs). So when `apt-get install sssd-ad` cannot work, this script downloads, with apt,
# bookworm's sssd-ad and the 4.17 samba-libs and libwbclient0 it was built against, and unpacks
# them (dpkg -x, nothing installed) under DIR:
#   DIR/usr/lib/x86_64-linux-gnu/sssd/libsss_ad.so     the provider sssd_be loads
#   DIR/usr/lib/x86_64-linux-gnu{,/samba}/             Samba 4.17's libraries (LD_LIBRARY_PATH)
# The test bind-mounts the provider into sssd's plugin directory inside its private mount
# namespace only, and runs sssd there with LD_LIBRARY_PATH naming those libraries; the machine's
# sssd, Samba and libldb stay as they are.
#
# Usage (as root): scripts/sssd-ad.sh [DIR]     (default /var/cache/adsim/sssd-ad)
# Exit 0: sssd-ad installed from apt, or DIR ready (nothing to do when it already is).
set -euo pipefail

DIR=${1:-/var/cache/adsim/sssd-ad}
LIBDIR=usr/lib/x86_64-linux-gnu
say() { echo "sssd-ad: $*" >&2; }

export DEBIAN_FRONTEND=noninteractive
[ -e "/$LIBDIR/sssd/libsss_ad.so" ] && { say "sssd-ad is installed"; exit 0; }
[ -e "$DIR/$LIBDIR/sssd/libsss_ad.so" ] && [ -e "$DIR/$LIBDIR/libndr.so.3" ] && exit 0

apt-get install -y -qq --no-install-recommends sssd-common sssd-ldap sssd-krb5-common libnss-sss sssd-tools >/dev/null
if apt-get install -y -qq --no-remove --no-install-recommends sssd-ad >/dev/null 2>&1; then
  say "sssd-ad installed from apt"
  exit 0
fi

# The newest version of a package that is not a backport.
stable_version() {
  apt-cache madison "$1" | awk -F'|' '$2 !~ /bpo/ { gsub(/ /, "", $2); print $2; exit }'
}
sssd_version=$(dpkg-query -W -f '${Version}' sssd-common)
samba_version=$(stable_version samba-libs)
[ -n "$samba_version" ] || { say "no bookworm samba-libs in the apt sources"; exit 3; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  apt-get download -qq "sssd-ad=$sssd_version" "samba-libs=$samba_version" "libwbclient0=$samba_version" 2>/dev/null
)
rm -rf "$DIR.new"
mkdir -p "$DIR.new"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$DIR.new"; done
# The machine's libldb serves sssd; only Samba's own libraries come from 4.17.
rm -f "$DIR.new/$LIBDIR"/libldb.so*
rm -rf "$DIR"
mv "$DIR.new" "$DIR"
say "unpacked sssd-ad $sssd_version and samba-libs $samba_version in $DIR"
