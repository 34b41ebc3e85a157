// An OCI image archive of Debian's busybox-static, for `ctr image import`: there is no registry
// here. One layer (busybox and its applet links, /etc/passwd, /etc/group), a config whose
// default command is sh, and the index names the image so that containerd imports it by name.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pack } from 'tar-stream';

const BUSYBOX = '/bin/busybox';

async function tarOf(entries: Array<{ name: string; type: 'file' | 'directory' | 'symlink'; data?: Buffer; linkname?: string; mode: number }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, type: e.type, mode: e.mode, uid: 0, gid: 0, mtime: new Date(0), linkname: e.linkname };
    await new Promise<void>((resolve, reject) => p.entry(header, e.data ?? '', (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The archive's bytes, and the name containerd gives the image. */
export async function busyboxImageArchive(name = 'docker.io/library/kata-e2e-busybox:latest'): Promise<Buffer> {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  const layer = await tarOf([
    ...['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'run'].map((d) => ({ name: `${d}/`, type: 'directory' as const, mode: d === 'tmp' ? 0o1777 : 0o755 })),
    { name: 'bin/busybox', type: 'file', data: readFileSync(BUSYBOX), mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox', mode: 0o777 })),
    { name: 'etc/passwd', type: 'file', data: Buffer.from('root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n'), mode: 0o644 },
    { name: 'etc/group', type: 'file', data: Buffer.from('root:x:0:\nnobody:x:65534:\n'), mode: 0o644 },
  ]);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [sha(layer)] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha(manifest),
      size: manifest.length,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() },
    }],
  }));
  const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, type: 'file' as const, data: b, mode: 0o644 });
  return tarOf([
    { name: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), mode: 0o644 },
    { name: 'index.json', type: 'file', data: index, mode: 0o644 },
    { name: 'blobs/', type: 'directory', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'directory', mode: 0o755 },
    blob(layer),
    blob(config),
    blob(manifest),
  ]);
}
