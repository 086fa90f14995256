/**
 * Symbolic values of generated requests, resolved against the live store only when a request is sent
 * (invariants.ts), so a replayed seed asks the same things of whatever the store holds by then:
 *  - `Ref`: an object of some resource, the caller's own, the other tenant's, anyone's, or one the
 *    caller can use (its own or a shared network); `on` narrows it to objects of the network a
 *    second Ref names (a subnet of the port's network), so fixed IPs name a subnet that fits;
 *  - `Addr`: an address or CIDR derived from a subnet a Ref names (inside it, or of its IP version),
 *    so updates and fixed IPs carry addresses the subnet can hold.
 */
import fc from 'fast-check';

/** An object of some resource: the caller's own (`own`), the other tenant's (`other`), or anyone's. */
export interface Ref {
  $ref: string;
  /** `usable`: the caller's own objects and shared networks (what a tenant may put a port on). */
  /** `external`: external networks (`router:external`), which every project may use for L3. */
  owner: 'own' | 'other' | 'any' | 'usable' | 'external';
  i: number;
  /** Only objects on the network this Ref names (a network itself, or the network of a port or subnet). */
  on?: Ref;
  /** Whose objects `own` and `usable` mean, when not the caller's (the admin acting for a tenant). */
  project?: string;
}
export const isRef = (v: unknown): v is Ref => typeof v === 'object' && v !== null && '$ref' in v;

/**
 * What an `Addr` becomes, for the subnet its Ref names: `host` the k-th address after the network
 * address (2 + k, so past a default gateway), `outside` an address of the subnet's version in a
 * documentation range, `route` a destination CIDR of that version (the default route for some k),
 * `cidr` the subnet's own CIDR.
 */
export type AddrForm = 'host' | 'outside' | 'route' | 'cidr';
export interface Addr {
  $addr: Ref;
  form: AddrForm;
  k: number;
}
export const isAddr = (v: unknown): v is Addr => typeof v === 'object' && v !== null && '$addr' in v;

export const ref = (res: string, owner?: Ref['owner'], project?: string): fc.Arbitrary<Ref> =>
  fc
    .record({
      $ref: fc.constant(res),
      owner: owner ? fc.constant(owner) : fc.constantFrom<Ref['owner']>('own', 'own', 'other', 'any'),
      i: fc.nat(20),
    })
    .map((r) => (project === undefined ? r : { ...r, project }));

/** A Ref narrowed to the network `on` names (a subnet of that network, say). */
export const refOn = (res: string, on: Ref): fc.Arbitrary<Ref> =>
  fc.nat(20).map((i) => ({ $ref: res, owner: 'any' as const, i, on }));

export const addr = (subnet: Ref, form: AddrForm, k: fc.Arbitrary<number> = fc.nat(40)): fc.Arbitrary<Addr> =>
  k.map((n) => ({ $addr: subnet, form, k: n }));
