/**
 * The script an agentless VM runs beside the stock OpenVPN client (POSIX sh, no dependencies
 * beyond iproute2 and a DHCP client). One file, three roles, told apart by how it is called:
 *  - OpenVPN `up`: pin a host route to the VPN server over the provider NIC, save the provider
 *    default route, bring the TAP up at the hyper MTU, clamp TCP MSS (nft, else iptables), and start
 *    a DHCP client on the TAP in the background (OpenVPN must keep running to carry the DHCP).
 *  - DHCP client script (dhclient `-sf` sets `$reason`; udhcpc `-s` passes `bound`/`renew`/… as $1):
 *    put the hyper IP on the TAP, set the MTU from option 26, and replace the default route with the
 *    hyper gateway, so the hyper network carries everything except the tunnel itself.
 *  - OpenVPN `down`: stop that DHCP client, remove the clamp, restore the provider default route.
 * State lives in `hypernet.state/` next to the script (so several lab VMs can share a filesystem).
 */
import { assertWord } from '../../model/grammar/words.js';

export const CLIENT_HOOK_NAME = 'hypernet-hook.sh';

/** The hook for a client whose VPN server is `remoteIp`. */
export function compileClientHook(remoteIp: string): string {
  return CLIENT_HOOK.replace('@REMOTE@', assertWord('remoteIp', remoteIp));
}

const CLIENT_HOOK = `#!/bin/sh
# hypernet agentless client hook: OpenVPN up/down script and DHCP client script (generated).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
REMOTE=@REMOTE@
DIR=$(cd "$(dirname "$0")" && pwd)
SELF="$DIR/$(basename "$0")"
STATE="$DIR/hypernet.state"
log() { echo "hypernet-hook: $*" >&2; }

mask2len() {
  n=0
  for o in $(echo "$1" | tr . ' '); do
    case $o in
      255) n=$((n + 8)) ;; 254) n=$((n + 7)) ;; 252) n=$((n + 6)) ;; 248) n=$((n + 5)) ;;
      240) n=$((n + 4)) ;; 224) n=$((n + 3)) ;; 192) n=$((n + 2)) ;; 128) n=$((n + 1)) ;;
    esac
  done
  echo $n
}

# bound IFACE IP PREFIXLEN [ROUTER] [MTU]
bound() {
  if ! ip -4 -o addr show dev "$1" | grep -q " $2/$3 "; then ip -4 addr flush dev "$1"; fi
  ip -4 addr replace "$2/$3" dev "$1"
  if [ -n "$5" ]; then ip link set dev "$1" mtu "$5"; fi
  if [ -n "$4" ]; then ip -4 route replace default via "$4" dev "$1"; fi
  log "bound $2/$3 on $1 router \${4:-none} mtu \${5:-unchanged}"
}

clamp_on() {
  if command -v nft >/dev/null 2>&1; then
    nft delete table inet hypernet_vpn 2>/dev/null
    printf '%s\\n' 'table inet hypernet_vpn {' '  chain post {' \\
      '    type filter hook postrouting priority mangle;' \\
      "    oifname \\"$1\\" tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu" \\
      '  }' '}' | nft -f -
  elif command -v iptables >/dev/null 2>&1; then
    iptables -t mangle -C POSTROUTING -o "$1" -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu 2>/dev/null ||
      iptables -t mangle -A POSTROUTING -o "$1" -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
  else
    log "neither nft nor iptables: MSS not clamped (the TAP MTU still bounds local TCP)"
  fi
}

clamp_off() {
  nft delete table inet hypernet_vpn 2>/dev/null
  iptables -t mangle -D POSTROUTING -o "$1" -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu 2>/dev/null
  return 0
}

start_dhcp() {
  if command -v dhclient >/dev/null 2>&1; then
    # No INIT-REBOOT (\`reboot 0\`): after a move the new hyperswitch's DHCP server has no record of
    # the old lease and, as RFC 2131 asks, stays silent on its REQUEST; dhclient would repeat it for
    # its default 10 s before falling back to DISCOVER. Retry every 1-2 s (defaults: 10 s, backing
    # off to 2 min): the tunnel is up when this runs, so a lost packet must not cost a long blackout.
    printf '%s\\n' 'request subnet-mask, broadcast-address, routers, interface-mtu, domain-name-servers;' \\
      'reboot 0;' 'initial-interval 1;' 'backoff-cutoff 2;' 'timeout 300;' 'retry 5;' >"$STATE/dhclient.conf"
    dhclient -4 -nw -cf "$STATE/dhclient.conf" -sf "$SELF" -pf "$STATE/dhcp.pid" -lf "$STATE/dhclient.leases" "$1"
  elif command -v udhcpc >/dev/null 2>&1; then
    udhcpc -b -R -t 5 -T 1 -A 2 -O mtu -i "$1" -s "$SELF" -p "$STATE/dhcp.pid"
  elif command -v busybox >/dev/null 2>&1; then
    busybox udhcpc -b -R -t 5 -T 1 -A 2 -O mtu -i "$1" -s "$SELF" -p "$STATE/dhcp.pid"
  else
    log "no DHCP client (dhclient, udhcpc): the TAP gets no hyper IP"
    return 1
  fi
}

stop_dhcp() {
  if [ -f "$STATE/dhcp.pid" ]; then kill "$(cat "$STATE/dhcp.pid")" 2>/dev/null; rm -f "$STATE/dhcp.pid"; fi
}

# 1. dhclient calls us with $reason set.
if [ -n "\${reason:-}" ]; then
  case $reason in
    PREINIT) ip link set dev "$interface" up ;;
    BOUND | RENEW | REBIND | REBOOT)
      bound "$interface" "$new_ip_address" "$(mask2len "$new_subnet_mask")" "\${new_routers%% *}" "\${new_interface_mtu:-}" ;;
    EXPIRE | FAIL | RELEASE | STOP) ip -4 addr flush dev "$interface" ;;
  esac
  exit 0
fi

# 2. udhcpc calls us with the event as $1.
case "\${1:-}" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set dev "$interface" up; exit 0 ;;
  bound | renew) bound "$interface" "$ip" "\${mask:-$(mask2len "$subnet")}" "\${router%% *}" "\${mtu:-}"; exit 0 ;;
  leasefail | nak) exit 0 ;;
esac

# 3. OpenVPN calls us as up/down with $dev and $tun_mtu.
case "\${script_type:-}" in
  up)
    mkdir -p "$STATE"
    ip -4 route show default >"$STATE/default.route"
    way=$(ip -4 route get "$REMOTE" | head -n 1)
    via=$(echo "$way" | sed -n 's/.* via \\([0-9.]*\\).*/\\1/p')
    odev=$(echo "$way" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')
    if [ -n "$via" ]; then
      ip -4 route replace "$REMOTE/32" via "$via" dev "$odev"
    else
      ip -4 route replace "$REMOTE/32" dev "$odev"
    fi
    ip link set dev "$dev" mtu "$tun_mtu" up
    clamp_on "$dev"
    start_dhcp "$dev"
    log "up: $dev mtu $tun_mtu, tunnel to $REMOTE pinned on $odev"
    ;;
  down)
    stop_dhcp
    clamp_off "$dev"
    while read -r route; do
      [ -n "$route" ] && ip -4 route replace $route
    done <"$STATE/default.route"
    ip -4 route del "$REMOTE/32" 2>/dev/null
    log "down: $dev, provider default route restored"
    ;;
  *) log "unexpected call (script_type='\${script_type:-}', 1='\${1:-}')"; exit 1 ;;
esac
exit 0
`;
