/** A Debian package pinned to one version, as the rootfs declaration names it. */
export interface DebianPackageRef {
  name: string;
  version: string;
}

export function formatPackageRef(ref: DebianPackageRef): string {
  return `${ref.name}=${ref.version}`;
}

/** A file-name-safe spelling of name_version (epochs contain ':'), used as the cache key. */
export function packageCacheKey(ref: DebianPackageRef): string {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(ref.name)) throw new Error(`Debian package name ${JSON.stringify(ref.name)}: invalid`);
  if (!/^[A-Za-z0-9.+~:-]+$/.test(ref.version)) throw new Error(`Debian package ${ref.name}: invalid version ${JSON.stringify(ref.version)}`);
  return `${ref.name}_${ref.version.replaceAll(':', '%3a')}`;
}
