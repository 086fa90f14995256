#!/usr/bin/env bash
# Installs what hypernet needs on a Debian machine (Debian packages when missing, npm packages),
# then builds the TypeScript. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
want ip iproute2
want nft nftables
want openvpn openvpn
want dnsmasq dnsmasq-base
want dhcp_release dnsmasq-utils
want dhclient isc-dhcp-client
want iperf3 iperf3
want openstack python3-openstackclient
want tcpdump tcpdump
want ping iputils-ping
want nc netcat-openbsd
want ps procps
want arping arping
want openssl openssl
want modprobe kmod
want nsenter util-linux
want ethtool ethtool
# A floating IP moved or dropped: the L3 agent ends the connections NATed by it (conntrack -D).
want conntrack conntrack
# The metadata tests curl 169.254.169.254 from workload namespaces.
want curl curl
# The encrypted overlay: wireguard-go where the kernel has no WireGuard module, and `wg`.
want wireguard-go wireguard-go
want wg wireguard-tools
# WireGuard agentless VMs run the stock wg-quick (same package).
want wg-quick wireguard-tools
want chromium chromium
# PostgreSQL server binaries (initdb, pg_ctl) for the PostgreSQL store's tests, which start throwaway
# clusters of their own (testkit/postgres.ts); they are not on PATH, so look in Debian's directory.
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need_apt+=(postgresql)
# The CLI's zsh completion is checked by `zsh -n` (test/ctl/completion.test.ts).
want zsh zsh
# The agent's raw frame sender (src/agent/native/rawsend.c) is compiled by `npm run build`.
want cc gcc
[ -e /usr/include/stdio.h ] || need_apt+=(libc6-dev)
# The tc-BPF security groups (src/agent/native/sg.bpf.c): clang -target bpf, libbpf's headers, bpftool.
want clang clang
want bpftool bpftool
[ -e /usr/include/bpf/bpf_helpers.h ] || need_apt+=(libbpf-dev)
# Image tests build a real OCI layout from a tiny rootfs (test/server/image-fixtures.ts).
want umoci umoci
# HyperVMs run unprivileged LXC containers (src/agent/hypervm/); newuidmap (uidmap) maps their ids,
# and their test image is built from a static busybox (src/lab/hypervm-image.ts).
want lxc-start lxc
want newuidmap uidmap
# ldd exits 1 on a static binary, which pipefail would take for a miss.
{ ldd /bin/busybox 2>&1 || true; } | grep -q 'not a dynamic' || need_apt+=(busybox-static)
# A private Keystone for tests, the lab (--keystone) and the tempest run: only the library package,
# whose keystone-manage and keystone-wsgi-public we run ourselves; the `keystone` package would
# also install and start a system service (uwsgi on port 5000) that hypernet does not want.
want keystone-wsgi-public python3-keystone
# Neutron's API test suite, run by `npm test` (test/server/tempest.test.ts): Debian's tempest and plugin.
want tempest tempest
/usr/bin/python3 -c 'import neutron_tempest_plugin' 2>/dev/null || need_apt+=(neutron-tempest-plugin)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${need_apt[*]} (run as root to install them)" >&2
  else
    echo "setup: installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
fi

# Root's containers map their root to uid/gid 100000 (65536 ids): newuidmap wants that range granted.
if [ "$(id -u)" = 0 ]; then
  for f in /etc/subuid /etc/subgid; do grep -q '^root:' "$f" 2>/dev/null || echo 'root:100000:65536' >>"$f"; done
fi

# npm packages: install when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npm run build --silent
