/**
 * The busybox HyperVM test image for the tests and benchmarks: built by the lab (src/lab/hypervm-image.ts,
 * where `lab up --hypervms` needs it too), re-exported here so fixtures keep one import path.
 */
export { buildHyperVmImage, canBuildHyperVmImage, pushLayout, socketCall } from '../src/lab/hypervm-image.js';
