// The Debian archive this machine already uses, read from its own apt sources, so that another
// suite (trixie, for virtiofsd) comes from the same mirror without a host name in the repo.
// Both formats apt reads: deb822 (*.sources) and one-line (sources.list, *.list).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface AptSourceEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  enabled: boolean;
  /** File it came from, for error messages. */
  file: string;
}

/** deb822 stanzas (blank-line separated "Key: value" paragraphs; # lines are comments). */
export function parseDeb822Sources(text: string, file: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#') || raw.trim() === '') continue;
      if (/^[ \t]/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`); // continuation line
        continue;
      }
      const colon = raw.indexOf(':');
      if (colon <= 0) continue;
      last = raw.slice(0, colon).trim().toLowerCase();
      fields.set(last, raw.slice(colon + 1).trim());
    }
    const words = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('uris')) continue;
    entries.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      signedBy: fields.get('signed-by'),
      enabled: (fields.get('enabled') ?? 'yes').toLowerCase() !== 'no',
      file,
    });
  }
  return entries;
}

/** One-line format: `deb [key=value ...] URI SUITE COMPONENT...`. */
export function parseOneLineSources(text: string, file: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(.*)$/.exec(line);
    if (!m) continue;
    const options = new Map((m[2] ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    entries.push({
      types: [m[1]!],
      uris: [m[3]!],
      suites: [m[4]!],
      components: m[5]!.trim().split(/\s+/).filter(Boolean),
      signedBy: options.get('signed-by'),
      enabled: true,
      file,
    });
  }
  return entries;
}

/**
 * The URI of the system's main Debian archive: an enabled `deb` entry signed by Debian's archive
 * keyring (or unsigned-by, i.e. the default keyring) for the release's own suite, not the security
 * archive (which holds only <suite>-security). `codename` is /etc/os-release's VERSION_CODENAME.
 */
export function debianArchiveUri(entries: readonly AptSourceEntry[], codename: string | undefined): string | undefined {
  const candidates = entries.filter(
    (e) =>
      e.enabled &&
      e.types.includes('deb') &&
      (e.signedBy === undefined || e.signedBy.includes('debian-archive-keyring')) &&
      e.suites.some((s) => !s.endsWith('-security') && !s.includes('/')) &&
      e.uris.some((u) => /^https?:\/\//.test(u)),
  );
  const own = codename ? candidates.find((e) => e.suites.includes(codename)) : undefined;
  const entry = own ?? candidates[0];
  return entry?.uris.find((u) => /^https?:\/\//.test(u))?.replace(/\/+$/, '');
}

/** Every entry apt itself would read under `etcApt` (sources.list and sources.list.d/). */
export async function readSystemAptSources(etcApt = '/etc/apt'): Promise<AptSourceEntry[]> {
  const entries: AptSourceEntry[] = [];
  const main = path.join(etcApt, 'sources.list');
  const mainText = await readFile(main, 'utf8').catch(() => undefined);
  if (mainText !== undefined) entries.push(...parseOneLineSources(mainText, main));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    // apt reads only these two suffixes; "*.disabled" and the like are ignored, as apt ignores them.
    if (name.endsWith('.sources')) entries.push(...parseDeb822Sources(await readFile(file, 'utf8'), file));
    else if (name.endsWith('.list')) entries.push(...parseOneLineSources(await readFile(file, 'utf8'), file));
  }
  return entries;
}

export async function osCodename(osRelease = '/etc/os-release'): Promise<string | undefined> {
  const text = await readFile(osRelease, 'utf8').catch(() => '');
  return /^VERSION_CODENAME="?([^"\n]+)"?$/m.exec(text)?.[1];
}

/** The system's Debian archive URI, or an error that says where we looked. */
export async function systemDebianArchiveUri(etcApt = '/etc/apt'): Promise<string> {
  const entries = await readSystemAptSources(etcApt);
  const uri = debianArchiveUri(entries, await osCodename());
  if (!uri) {
    throw new Error(
      `no Debian archive in the system's apt sources (${etcApt}/sources.list, ${etcApt}/sources.list.d/*.sources|*.list): ` +
        'want an enabled "deb" entry for the release suite signed by debian-archive-keyring',
    );
  }
  return uri;
}
