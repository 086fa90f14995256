/**
 * Which ports each hyperswitch's agent last reported serving (PUT …/vpn: their OpenVPN servers run),
 * and who waits for one: a move activates its target binding only once the target serves the port.
 */
export class ServingTracker {
  private readonly serving = new Map<string, Set<string>>();
  private readonly waiters = new Set<() => void>();

  /** A hyperswitch's agent reports the ports whose OpenVPN server runs. */
  report(hyperswitchId: string, portIds: readonly string[]): void {
    this.serving.set(hyperswitchId, new Set(portIds));
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves true once `hyperswitchId` reports `portId` served, false after `timeoutMs`. */
  wait(hyperswitchId: string, portId: string, timeoutMs: number): Promise<boolean> {
    const served = () => !!this.serving.get(hyperswitchId)?.has(portId);
    if (served()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => served() && done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }
}
