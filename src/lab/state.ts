/**
 * The lab's record of itself, `STATE/lab.json`: the plan it was built from and what it made at run
 * time (network, ports, VM addresses). `lab status`, `lab exec` and `lab down` read it; `lab down`
 * also works without it (sweep by prefix, pid files).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CustomRouteMode } from '../model/custom-route.js';
import type { LabPlan } from './plan.js';

export interface LabVmRecord {
  name: string;
  cloud: string;
  ns: string;
  hostId: string;
  portId: string;
  mac: string;
  /** The hyper IP the API allocated (and DHCP handed out). */
  ip: string;
  tap: string;
  /** The underlay IP of a hyperswitch that is not one of the plan's clouds' (an agentless VM's). */
  underlayIp?: string;
}

/** A HyperVM of `lab up --hypervms`: its container runs on `hostId`'s agent, in namespace `ns`. */
export interface LabHyperVmRecord {
  name: string;
  id: string;
  cloud: string;
  hostId: string;
  ns: string;
  /** The agent's container directory (`lxc-attach -P`). */
  lxcDir: string;
  portId: string;
  ip: string;
}

/** The lab's L3 (src/lab/router.ts): its router, gateways, floating IPs and external host. */
export interface LabL3Record {
  routerId: string;
  gateways: { cloud: string; ip: string }[];
  floatingips: { vm: string; ip: string; fixedIp: string }[];
  /** The router's interfaces: its address on each tenant subnet (absent in older labs). */
  interfaces?: { ip: string; network: string; cidr: string }[];
  externalHost: { ns: string; ip: string } | null;
}

/** A tenant network the lab made (`--networks`), with its one subnet. */
export interface LabNetworkRecord {
  name: string;
  cidr: string;
  networkId: string;
  subnetId: string;
}

/** A custom-route hyperswitch of the vpc cloud: its instance and its ENI (`--custom-route-interface`). */
export interface LabVpcHyperswitchRecord {
  hostId: string;
  instanceId: string;
  eni: string;
  vpcIp: string;
}

/** A VM of the vpc cloud: its VPC ENI and address, and its custom-route port on the hyper network. */
export interface LabVpcVmRecord {
  name: string;
  ns: string;
  mode: CustomRouteMode;
  eni: string;
  vpcIp: string;
  portId: string;
  mac: string;
  /** The hyper IP the API allocated: on the hyperswitch (`instead`), also on the VM (`in-addition`). */
  ip: string;
  /** The hyperswitch its port is bound to. */
  hostId: string;
}

/** The vpc cloud of `--custom-route-vms` as `lab up` made it (the endpoint's ids, hyperswitches, VMs). */
export interface LabVpcRecord {
  url: string;
  vpcId: string;
  subnetId: string;
  routeTableId: string;
  /** The lab's own groups the ENIs are made with, instead of the VPC's default (LAB_VPC_GROUPS). */
  groups: { hyperswitches: string; vms: string; inAddition: string };
  hyperswitches: LabVpcHyperswitchRecord[];
  vms: LabVpcVmRecord[];
}

export interface LabState {
  version: 1;
  createdAt: string;
  plan: LabPlan;
  /** `http://127.0.0.1:PORT` when the server listens on TCP, else null. */
  apiUrl: string | null;
  /** The first tenant network and its subnet (`networks[0]`). */
  networkId?: string;
  subnetId?: string;
  /** Every tenant network (absent in the lab.json of older labs: the first alone). */
  networks?: LabNetworkRecord[];
  vms: LabVmRecord[];
  l3?: LabL3Record;
  hypervms?: LabHyperVmRecord[];
  vpc?: LabVpcRecord;
}

export function readState(file: string): LabState | null {
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as LabState;
    return s.version === 1 && s.plan ? s : null;
  } catch {
    return null;
  }
}

/** Writes atomically (temp file + rename). */
export function writeState(file: string, state: LabState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
