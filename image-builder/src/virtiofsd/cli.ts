// `image-builder virtiofsd`: provision virtiofsd (the host's, else trixie's, staged and cached)
// and print where it is: the command line that starts it, or the whole record with --json.
import { parseArgs } from 'node:util';
import { ensureVirtiofsd } from './provision';

const USAGE = `usage: image-builder virtiofsd [--cache-dir DIR] [--force] [--no-host] [--json]
  Finds the Rust virtiofsd on the host (/usr/libexec/virtiofsd, $PATH), else stages Debian
  trixie's virtiofsd with its own glibc into the cache (\${XDG_CACHE_HOME:-~/.cache}/kata-node-agent/virtiofsd)
  from the Debian archive the system's apt sources name. Prints the command that starts it.
  --force    stage again, even if cached or on the host
  --no-host  ignore a virtiofsd installed on the host`;

export async function virtiofsdMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'cache-dir': { type: 'string' },
        force: { type: 'boolean', default: false },
        'no-host': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const v = await ensureVirtiofsd({
      cacheDir: values['cache-dir'],
      force: values.force,
      preferHost: !values['no-host'],
      log: (m) => process.stderr.write(`[virtiofsd] ${m}\n`),
    });
    if (values.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    else {
      const where = v.source === 'host' ? 'host' : v.fromCache ? `cached ${v.key}` : `staged ${v.key}`;
      process.stderr.write(`[virtiofsd] ${v.version} (${where})\n`);
      process.stdout.write(`${v.command.join(' ')}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`virtiofsd: ${(err as Error).message}\n`);
    return 1;
  }
}
