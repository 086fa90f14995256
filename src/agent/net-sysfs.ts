/**
 * Writing a network device's sysfs attribute (threaded NAPI, RPS CPUs) of the agent's own network
 * namespace. The /sys this process sees may belong to another namespace (an agent started with
 * nsenter), so the command mounts the current namespace's sysfs on a temporary directory in a private
 * mount namespace (not on /sys: under `ip netns exec` that is already this namespace's sysfs, and
 * mounting it there again fails).
 */
const SCRIPT =
  'd=$(mktemp -d) || exit 1; mount -t sysfs none "$d" && echo "$3" > "$d/class/net/$1/$2"; ' +
  'r=$?; umount "$d" 2>/dev/null; rmdir "$d"; exit $r';

/** The program and arguments that write `value` to `/sys/class/net/<dev>/<attr>` of this namespace. */
export function netSysfsWrite(dev: string, attr: string, value: string): { cmd: string; args: string[] } {
  return { cmd: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', dev, attr, value] };
}

/** A CPU mask of the first `n` CPUs in sysfs's format (hex, 32-bit groups separated by commas). */
export function cpuMask(n: number): string {
  const groups: string[] = [];
  for (let left = Math.max(1, n); left > 0; left -= 32) {
    const bits = Math.min(32, left);
    groups.unshift((bits === 32 ? 0xffffffff : (1 << bits) - 1).toString(16).padStart(8, '0'));
  }
  return groups.join(',');
}
