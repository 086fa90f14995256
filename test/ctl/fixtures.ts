/**
 * Small model objects for the pure CLI and dashboard tests (plain data, not a fake server), built on
 * the agent tests' fixtures; agents are added here.
 */
import type { Agent, Network, Port } from '../../src/model/types.js';
import { network as baseNetwork, port as basePort, subnet } from '../agent/dhcp/fixtures.js';

export { subnet };

export function agent(host: string, cloud: string, alive: boolean, heartbeat = '2026-11-21T05:00:00Z'): Agent {
  return {
    id: `agent-${host}`,
    agent_type: 'hypernet agent',
    binary: 'hypernet-agent',
    host,
    topic: 'N/A',
    admin_state_up: true,
    alive,
    availability_zone: null,
    created_at: '',
    started_at: '',
    heartbeat_timestamp: heartbeat,
    description: '',
    configurations: { tunneling_ip: `192.0.2.${host.length}`, cloud },
  };
}

export function network(id: string, name: string, subnets: string[] = []): Network {
  return { ...baseNetwork(id, 100), name, subnets };
}

export function port(id: string, networkId: string, host: string, status: Port['status'], ip = '10.0.1.5'): Port {
  return basePort(id, networkId, 'fa:16:3e:00:00:01', [['s1', ip]], host, { status });
}
