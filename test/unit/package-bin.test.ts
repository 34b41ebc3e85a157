// package.json's promises: `bin` commands that run as they are (the bundles in dist/, built by the
// global setup, start with a `#!/usr/bin/env node` line and are executable), and `npm test` is the
// README's test command.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

describe('package.json', () => {
  it('has bin entries for agent-ctl and the image builder', () => {
    expect(pkg.bin).toEqual({ 'agent-ctl': 'dist/agent-ctl.js', 'image-builder': 'dist/image-builder.js' });
  });

  it.each(Object.entries(pkg.bin))('bin %s (%s) is an executable node script that prints its usage', (name, file) => {
    const full = path.join(ROOT, file);
    expect(readFileSync(full, 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
    accessSync(full, constants.X_OK);
    // Run as a command, not as `node FILE`: the kernel reads the #! line.
    const r = spawnSync(full, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.stdout).toMatch(new RegExp(`^usage: ${name} `));
  });

  it('runs the README test command for npm test, and the unit tests for test:unit', () => {
    expect(pkg.scripts.test).toBe('bash scripts/test.sh');
    expect(pkg.scripts['test:unit']).toBe('vitest run test/unit');
  });
});
