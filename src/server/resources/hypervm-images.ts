/**
 * What the hypervms resource needs of the image catalog (images/service.ts), as an interface so the
 * resource layer does not depend on the Glance code: the image as the caller sees it, and the
 * single-use pull token a HyperVM node takes for its launch; the export images of snapshots and migrations.
 */
import type { Caller } from '../auth.js';

export interface HyperVmImage {
  id: string;
  owner: string;
  status: string;
  container_format: string | null;
}

export interface IssuedLaunchToken {
  token: string;
  image_id: string;
  address: string;
  expires_at: string;
}

export interface HyperVmImages {
  /** The image when `caller` may see it, else undefined (another tenant's private image does not exist). */
  find(caller: Caller, id: string): HyperVmImage | undefined;
  /** A token for one pull of `imageId` from `address` (the node's provider address). */
  issueToken(caller: Caller, imageId: string, address: string): IssuedLaunchToken;
  /** A new queued image of `project` (docker/raw, private) that a HyperVM's export will fill; its id. */
  createExport(caller: Caller, project: string, name: string): string;
  /** A token for one upload into the queued `imageId` from `address` (the node's provider address). */
  issueUploadToken(caller: Caller, imageId: string, address: string): IssuedLaunchToken;
  /** Removes an export image that never became active (a failed task leaves nothing behind). */
  dropUnfinished(caller: Caller, imageId: string): Promise<void>;
}
