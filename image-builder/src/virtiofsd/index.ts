export {
  ensureVirtiofsd, findHostVirtiofsd, parseVirtiofsdVersion, stagedCommand, virtiofsdCacheKey, virtiofsdCommand,
  VIRTIOFSD_PACKAGES, VIRTIOFSD_SUITE, type VirtiofsdInstall, type VirtiofsdOptions,
} from './provision';
export { debianArchiveUri, parseDeb822Sources, parseOneLineSources, systemDebianArchiveUri, type AptSourceEntry } from './apt-sources';
export { virtiofsdMain } from './cli';
