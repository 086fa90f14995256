/** What server and agent agree on about HyperVMs (the `hypervms` resource, src/agent/hypervm/). */

/** The agent capability of a node that runs HyperVM containers (the scheduler picks among these). */
export const HYPERVM_CAPABILITY = 'hypervm';
/** The device_owner of a port a HyperVM holds. */
export const HYPERVM_OWNER = 'compute:hypervm';
/** The HTTP Upgrade protocol of the console relay (server ↔ caller, server ↔ node). */
export const CONSOLE_PROTOCOL = 'hypernet-console';
