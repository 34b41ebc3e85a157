import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { availableParallelism } from 'node:os';
import { createGzip } from 'node:zlib';

export type InitrdCompression = 'gzip' | 'zstd' | 'none';

/** A byte sink that compresses into a file; `close` resolves when every byte is on disk. */
export interface CompressedOutput {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  /** Bytes given to `write`, before compression. */
  readonly uncompressedBytes: number;
}

/**
 * gzip comes from node:zlib (its header carries mtime 0, so output is reproducible);
 * zstd from Debian's zstd binary. Its multi-threaded mode cuts the input into jobs by size, not by
 * thread count, so -T1 and -TN give the same bytes (checked with zstd 1.5.4); only --single-thread
 * would differ. We use every core for speed.
 */
export function openCompressedOutput(file: string, compression: InitrdCompression, level: number): CompressedOutput {
  const fileStream = createWriteStream(file);
  let input: Writable;
  let done: Promise<void>;
  if (compression === 'gzip') {
    const gzip = createGzip({ level });
    input = gzip;
    done = pipeline(gzip, fileStream);
  } else if (compression === 'zstd') {
    const args = ['-q', `-T${Math.max(1, availableParallelism())}`, `-${level}`, '-c', '-'];
    if (level > 19) args.unshift('--ultra');
    const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const spawned = once(child, 'spawn').then(() => undefined);
    const exited = new Promise<void>((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`run zstd: ${e.message} (is zstd installed?)`)));
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`zstd -${level}: exit status ${code}: ${Buffer.concat(stderr).toString().trim()}`));
      });
    });
    input = child.stdin;
    done = Promise.all([spawned, exited, pipeline(child.stdout, fileStream)]).then(() => undefined);
  } else {
    input = fileStream;
    done = once(fileStream, 'finish').then(() => undefined);
  }
  // Surface a failing compressor on the next write instead of waiting forever for 'drain'.
  let failure: unknown;
  done.catch((e) => { failure = e; });
  input.on('error', (e) => { failure ??= e; });

  let count = 0;
  return {
    get uncompressedBytes() { return count; },
    async write(chunk: Buffer) {
      if (failure) throw failure;
      count += chunk.length;
      if (!input.write(chunk)) {
        await Promise.race([once(input, 'drain'), done]);
        if (failure) throw failure;
      }
    },
    async close() {
      input.end();
      await done;
    },
  };
}
