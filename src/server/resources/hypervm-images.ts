/**
 * What the hypervms resource needs of the image catalog (images/service.ts), as an interface so the
 * resource layer does not depend on the Glance code: the image as the caller sees it, and the
 * single-use pull token a HyperVM node takes for its launch.
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
}
