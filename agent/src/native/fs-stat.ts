// statfs(2), stat(2) and realpath(3) on a thread of their own (blocking_calls.c), for paths on a
// share whose server may stall (GetVolumeStats, stale share mounts, the guest path confinement's
// lookups): Node's fs.statfs, fs.stat and fs.realpath would hold one of
// libuv's four threadpool threads, and a few stuck ones would stall every fs call of the agent.
import { native, type RawStatfs } from './addon';

export type Statfs = RawStatfs;

/** statfs(2), with the fields of Node's statfs(path, { bigint: true }). */
export function statfs(path: string): Promise<Statfs> {
  return native().statfsAsync(path);
}

/** stat(2) of `path`, for whether it answers: resolves, or rejects with its errno (ESTALE...). */
export function statPath(path: string): Promise<void> {
  return native().statAsync(path);
}

/** realpath(3): `path` with every symlink resolved; rejects with its errno (ENOENT...). */
export function realPath(path: string): Promise<string> {
  return native().realpathAsync(path);
}
