export { ensureKernel, kernelCacheKey, type KernelArtifacts, type KernelBuildOptions } from './build-kernel';
export { findDroppedOptions, parseKconfig, type ConfigMismatch, type KconfigValues } from './kconfig';
export { loadFragments, type ConfigFragment } from './fragments';
export { readSourcePin, type SourcePin } from './kernel-source';
export { kernelMain } from './cli';
