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
    issueToken: (caller, imageId, address) => neutron(() => service.issueToken(caller, imageId, address)),
    createExport: (caller, project, name) =>
      neutron(
        () =>
          service.create(caller, {
            name,
            owner: project,
            visibility: 'private',
            protected: false,
            os_hidden: false,
            container_format: 'docker',
            disk_format: 'raw',
            min_disk: 0,
            min_ram: 0,
            tags: [],
            properties: {},
          }).id,
      ),
    issueUploadToken: (caller, imageId, address) => neutron(() => service.issueUploadToken(caller, imageId, address)),
    async dropUnfinished(caller, imageId) {
      const img = service.catalog.get(imageId);
      if (img && img.status !== 'active') await service.remove(caller, imageId);
    },
  };
}

/** A Glance refusal (image deleted, no longer active) keeps its status as a Neutron error. */
function neutron<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof GlanceFault) throw new NeutronFault(e.status, 'ImageTokenRefused', e.message);
    throw e;
  }
}
