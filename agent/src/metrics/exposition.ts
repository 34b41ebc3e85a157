// Prometheus text exposition format 0.0.4: "# HELP" and "# TYPE" per family, then one line per
// sample. Values may be passed as the decimal text /proc printed, so 64-bit counters are not
// rounded through a double on the way out.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';

export interface Sample {
  /** Appended to the family name (histograms: "_bucket", "_sum", "_count"). */
  suffix?: string;
  labels?: Readonly<Record<string, string>>;
  value: number | string;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(value: number | string): string {
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  const parts: string[] = [];
  for (const key in labels) {
    if (!LABEL_RE.test(key)) throw new Error(`metrics: label name "${key}" is not valid`);
    parts.push(`${key}="${escapeLabelValue(labels[key]!)}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Renders families in order; a family without samples is left out. */
export function renderExposition(families: Iterable<MetricFamily>): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (f.samples.length === 0) continue;
    if (!NAME_RE.test(f.name)) throw new Error(`metrics: family name "${f.name}" is not valid`);
    if (seen.has(f.name)) throw new Error(`metrics: family ${f.name} appears twice`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** A family whose samples differ by one "item" label, from [item, value] pairs. */
export function itemFamily(
  name: string,
  type: MetricType,
  help: string,
  items: Iterable<readonly [string, number | string]>,
  extraLabels?: Readonly<Record<string, string>>,
): MetricFamily {
  const samples: Sample[] = [];
  for (const [item, value] of items) samples.push({ labels: extraLabels ? { ...extraLabels, item } : { item }, value });
  return { name, type, help, samples };
}
