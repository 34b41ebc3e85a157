// A busybox-static root filesystem for test containers (Debian's busybox-static), with an
// "nginx" stand-in on PATH for the Kubernetes fixtures.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BUSYBOX = '/bin/busybox';

export function makeBusyboxRootfs(dir: string): string {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'usr/sbin', 'var/log']) mkdirSync(path.join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, path.join(dir, 'bin/busybox'));
  chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', path.join(dir, 'bin', a));
  writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\nnginx:x:101:101:nginx:/:/bin/sh\n');
  writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\nnginx:x:101:\n');
  // The fixtures run "nginx -g 'daemon off;'": say so on stdout and stay up like a server.
  writeFileSync(path.join(dir, 'usr/sbin/nginx'), '#!/bin/sh\necho "nginx stand-in: $*"\nexec sleep 2147483647\n', { mode: 0o755 });
  return dir;
}
