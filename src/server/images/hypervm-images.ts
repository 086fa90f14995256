/**
 * The image service as the hypervms resource reads it (resources/hypervm-images.ts): Glance's 404
 * becomes "no such image", its other refusals Neutron errors of the same status.
 */
import type { Caller } from '../auth.js';
import type { HyperVmImages } from '../resources/hypervm-images.js';
import { NeutronFault } from '../errors.js';
import { GlanceFault } from './glance-errors.js';
import type { ImageService } from './service.js';

export function hyperVmImagesOf(service: ImageService): HyperVmImages {
  return {
    find(caller: Caller, id: string) {
      try {
        return service.get(caller, id);
      } catch (e) {
        if (e instanceof GlanceFault && e.status === 404) return undefined;
        throw e;
      }
    },
    issueToken(caller, imageId, address) {
      try {
        return service.issueToken(caller, imageId, address);
      } catch (e) {
        // A Glance refusal (image deleted, no longer active) keeps its status as a Neutron error.
        if (e instanceof GlanceFault) throw new NeutronFault(e.status, 'ImageTokenRefused', e.message);
        throw e;
      }
    },
  };
}
