/**
 * The API's check of a custom-route binding (`binding:profile` key `hypernet:custom_route`, grammar in
 * model/custom-route.ts): a bad one is Neutron's InvalidInput, at the port API and the bindings API alike.
 */
import { CustomRouteError, customRouteOf } from '../../model/custom-route.js';
import { faults } from '../errors.js';

export function checkCustomRouteProfile(profile: Record<string, unknown> | null | undefined): void {
  try {
    customRouteOf(profile);
  } catch (e) {
    if (e instanceof CustomRouteError) throw faults.invalidInput(e.message);
    throw e;
  }
}
