// The image builder's snapshot blobs: built with code cache (V8 keeps the bytecode of what ran
// while building), then stripped of Node's CPU-tagged code cache so the blob loads on any CPU.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentSnapshot } from '../../image-builder/src/rootfs/agent-snapshot';
import { SnapshotBlobError, readSnapshotLayout, withoutBuiltinCodeCache } from '../../image-builder/src/rootfs/snapshot-blob';

const MAIN = `const v8 = require('node:v8');
function answer() { return 6 * 7; }
globalThis.built = answer();
v8.startupSnapshot.setDeserializeMainFunction(() => console.log(JSON.stringify({ answer: answer(), argv: process.argv.slice(1) })));
`;

/** Starts only from a blob built without code cache: the builder's config says which, at build time. */
const PICKY_MAIN = `const v8 = require('node:v8');
const configArg = process.execArgv.find((a) => a.startsWith('--build-snapshot-config='));
const config = JSON.parse(require('node:fs').readFileSync(configArg.slice(configArg.indexOf('=') + 1), 'utf8'));
const withoutCodeCache = config.withoutCodeCache === true;
v8.startupSnapshot.setDeserializeMainFunction(() => {
  if (!withoutCodeCache) {
    console.error('refused: built with code cache');
    process.exitCode = 3;
    return;
  }
  console.log(JSON.stringify({ withoutCodeCache }));
});
`;

describe('snapshot blobs', () => {
  let dir: string;
  let codeCached: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'snapshot-blob-'));
    writeFileSync(path.join(dir, 'main.cjs'), MAIN);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ builder: path.join(dir, 'main.cjs'), withoutCodeCache: false }));
    execFileSync(process.execPath, ['--snapshot-blob', path.join(dir, 'cached.blob'), `--build-snapshot-config=${path.join(dir, 'config.json')}`], { cwd: dir });
    codeCached = readFileSync(path.join(dir, 'cached.blob'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the metadata and the code cache of a blob node wrote', () => {
    const layout = readSnapshotLayout(codeCached);
    expect(layout.nodeVersion).toBe(process.versions.node);
    expect(layout.flags & 1).toBe(0);
    // Node's built-in modules, one entry each.
    expect(layout.codeCacheEntries).toBeGreaterThan(50);
    expect(layout.codeCacheOffset).toBeLessThan(codeCached.length);
  });

  it('drops the code cache, keeps the V8 data, and the result still loads', () => {
    const stripped = withoutBuiltinCodeCache(codeCached);
    const layout = readSnapshotLayout(stripped);
    expect(layout.flags & 1).toBe(1);
    expect(layout.codeCacheEntries).toBe(0);
    expect(stripped.length).toBe(layout.codeCacheOffset + 8);
    expect(stripped.subarray(0, layout.flagsOffset).equals(codeCached.subarray(0, layout.flagsOffset))).toBe(true);
    expect(stripped.subarray(layout.flagsOffset + 4, layout.codeCacheOffset).equals(codeCached.subarray(layout.flagsOffset + 4, layout.codeCacheOffset))).toBe(true);
    const blob = path.join(dir, 'stripped.blob');
    writeFileSync(blob, stripped);
    const out = execFileSync(process.execPath, ['--snapshot-blob', blob, '--', 'x'], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ answer: 42, argv: ['x'] });
  });

  it('names what is wrong with a file that is not such a blob', () => {
    expect(() => readSnapshotLayout(Buffer.from('not a blob at all'))).toThrow(SnapshotBlobError);
    expect(() => readSnapshotLayout(codeCached.subarray(0, 40))).toThrow(/ends early/);
    // Cut inside the code cache: no vector then reads exactly to the end.
    expect(() => readSnapshotLayout(codeCached.subarray(0, codeCached.length - 10))).toThrow(/no code cache section/);
  });

  it('builds a blob that keeps bytecode, and checks that it starts', async () => {
    const blob = path.join(dir, 'built.blob');
    const built = await buildAgentSnapshot({ node: process.execPath, entry: path.join(dir, 'main.cjs'), blob, probeArgs: [] });
    expect(built).toMatchObject({ keepsBytecode: true, fallbackReason: undefined });
    expect(readSnapshotLayout(readFileSync(blob)).codeCacheEntries).toBe(0);
  }, 60_000);

  it('falls back to a blob without bytecode when the patched one does not start', async () => {
    // A main that refuses to start from a blob built with code cache (it reads, while being built,
    // which way the builder was asked to build it): the patched blob fails its start-up check, so
    // only the fallback build can give a blob that starts.
    const picky = path.join(dir, 'picky.cjs');
    writeFileSync(picky, PICKY_MAIN);
    const blob = path.join(dir, 'picky.blob');
    const built = await buildAgentSnapshot({ node: process.execPath, entry: picky, blob, probeArgs: [] });
    expect(built.keepsBytecode).toBe(false);
    expect(built.fallbackReason).toMatch(/picky\.blob does not start: refused: built with code cache/);
    // What is left on disk is the fallback's blob, the one built without code cache, and it starts.
    const out = execFileSync(process.execPath, ['--snapshot-blob', blob], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ withoutCodeCache: true });
    expect(built.bytes).toBe(readFileSync(blob).length);
  }, 60_000);

  it('reports the fallback failing too', async () => {
    // A main that fails its start-up check whatever the blob: both builds are probed, so the
    // fallback is taken and, failing too, reported.
    const failing = path.join(dir, 'failing.cjs');
    writeFileSync(failing, "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => { process.exitCode = 3; });\n");
    await expect(buildAgentSnapshot({ node: process.execPath, entry: failing, blob: path.join(dir, 'failing.blob') })).rejects.toThrow(/failing\.blob does not start/);
  }, 60_000);
});
