/** The engine's own Prometheus metrics (`sloe_` prefix). SLO ids are labels; user ids never are. */
import { createHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Metric, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A metric whose text a scrape renders again only when it changed: `textVersion()`, called first at each scrape (it
 * may bring the metric's values up to date), returns a value that differs from the last one whenever they changed.
 */
export interface VersionedMetric {
  textVersion(): Promise<unknown>;
}

/**
 * A metric that writes its text itself, as prom-client renders it (header, then one line a series), without making
 * its series first: the SLO gauges, tens of thousands of lines at 10,000 SLOs. What it writes is read again after
 * textVersion() read it, and may have changed in between: writeText resolves to the version of what it wrote, kept
 * with the text (a version textVersion() never returns, when what it wrote is not to be kept).
 */
export interface WrittenMetric {
  writeText(out: TextBytes): Promise<unknown>;
}

/**
 * Bytes a text is written into: its pieces are joined into strings of up to about PENDING characters (small, made and
 * dropped in the young generation), each written into chunks of CHUNK bytes. No string of the whole text is made: with
 * thousands of SLOs it would be megabytes, in the old generation at once, where only a full collection frees it.
 */
export class TextBytes {
  private readonly done: Buffer[] = [];
  /** The chunk being written, taken at the first PENDING characters: a short text is never written into one. */
  private chunk: Buffer | undefined;
  private used = 0;
  private pending = '';

  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= PENDING) this.flush();
  }

  private flush(): void {
    const text = this.pending;
    this.pending = '';
    this.chunk ??= takeChunk();
    const room = this.chunk.length - this.used;
    // UTF-8 takes at most 3 bytes for each UTF-16 unit: only when that might not fit are the bytes counted.
    if (3 * text.length > room) {
      const length = Buffer.byteLength(text);
      if (length > room) {
        this.done.push(this.chunk.subarray(0, this.used));
        this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, length));
        this.used = 0;
      }
    }
    this.used += this.chunk.write(text, this.used);
  }

  /**
   * One sample line after a newline: `name{labels} value`, `labels` already formatted (formatLabels), and `more` after
   * them where given.
   */
  sample(name: string, labels: string, value: number, more?: string): void {
    const inside = labels && more ? `${labels},${more}` : labels || more;
    this.write(inside ? `\n${name}{${inside}} ${valueText(value)}` : `\n${name} ${valueText(value)}`);
  }

  /** A metric's HELP and TYPE lines (no newline after). */
  header(name: string, help: string, type: string): void {
    const escaped = escapeText(name);
    this.write(`# HELP ${escaped} ${escapeText(help)}\n# TYPE ${escaped} ${type}`);
  }

  /**
   * The text written, as chunks of bytes to be written out one after the other. The last chunk is copied to its
   * length (most metrics' texts are short), and the chunk it was written in is given to the next TextBytes.
   */
  bytes(): Buffer[] {
    if (!this.chunk) return [Buffer.from(this.pending)];
    this.flush();
    const last = Buffer.from(this.chunk!.subarray(0, this.used));
    if (this.chunk!.length === CHUNK) spare = this.chunk;
    this.chunk = undefined;
    return [...this.done, last];
  }
}

/** A chunk a TextBytes gave back, for the next one to write in. */
let spare: Buffer | undefined;
function takeChunk(): Buffer {
  const chunk = spare ?? Buffer.allocUnsafe(CHUNK);
  spare = undefined;
  return chunk;
}

/** Characters joined before they are written into bytes, and bytes a chunk holds. */
const PENDING = 8 * 1024;
const CHUNK = 256 * 1024;

/** Text as prom-client escapes HELP texts and metric names. */
const escapeText = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A sample's value as prom-client writes it (NaN as `Nan`, as it does). */
const valueText = (value: number) =>
  Number.isNaN(value) ? 'Nan' : Number.isFinite(value) ? `${value}` : value < 0 ? '-Inf' : '+Inf';

/**
 * Labels as prom-client formats them: `name="value"` in the object's order, joined by commas, values escaped
 * (backslash, newline, double quote), those `exclude` has left out.
 */
export function formatLabels(labels: Readonly<Record<string, unknown>>, exclude?: object): string {
  const parts: string[] = [];
  for (const name in labels) {
    if (!Object.hasOwn(labels, name) || (exclude && Object.hasOwn(exclude, name))) continue;
    const value = labels[name];
    const escaped = typeof value === 'string' ? escapeText(value).replace(/"/g, '\\"') : value;
    parts.push(`${name}="${escaped}"`);
  }
  // Joined, the text is one flat string: built with +=, a text kept for every SLO would be kept as a tree of its
  // pieces (about 6 MB of them at 10,000 SLOs).
  return parts.join(',');
}

interface MetricValue {
  value: number;
  labels?: Record<string, unknown>;
  metricName?: string;
  sharedLabels?: Record<string, unknown>;
}

/** A prom-client metric's text (Prometheus format, no default labels), written line by line as prom-client does. */
async function writeMetric(metric: Metric, out: TextBytes): Promise<void> {
  const source = metric as Metric & { getForPromString?: () => ReturnType<Metric['get']> };
  const data = (await (source.getForPromString ? source.getForPromString() : metric.get())) as unknown as {
    name: string;
    help: string;
    type: string;
    values?: MetricValue[];
  };
  const name = escapeText(data.name);
  out.header(data.name, data.help, data.type);
  // A counter's or gauge's series keep their labels object from scrape to scrape (a histogram's bucket labels are
  // made at each): their text is made once.
  const kept = data.type === 'counter' || data.type === 'gauge';
  for (const { metricName = name, labels = {}, sharedLabels, value } of data.values ?? []) {
    if (sharedLabels) out.sample(metricName, formatLabels(labels, sharedLabels), value, formatLabels(sharedLabels));
    else out.sample(metricName, kept ? keptLabelText(labels, () => labels) : formatLabels(labels), value);
  }
}

/**
 * The labels text (formatLabels) of series that last between scrapes, made once for `key`: a prom-client series'
 * labels object, or what an SLO gauge's labels are made from (an SLO; SLOs are new objects after a reload).
 */
const labelTexts = new WeakMap<object, string>();
export function keptLabelText(key: object, labels: () => Readonly<Record<string, unknown>>): string {
  let text = labelTexts.get(key);
  if (text === undefined) {
    text = formatLabels(labels());
    labelTexts.set(key, text);
  }
  return text;
}

/**
 * A registry that keeps the text of each VersionedMetric between scrapes: the SLO gauges (hundreds of lines a
 * hundred SLOs, the most of a scrape's work) change once a budget refresh or when an incident opens or closes, and
 * are scraped every 15 s or so. The text is the same as the registry's own rendering.
 */
export class CachingRegistry extends Registry {
  /** Each VersionedMetric's text as bytes, with the version it was rendered at. */
  private readonly texts = new Map<string, { version: unknown; bytes: Buffer[] }>();

  /**
   * The exposition as chunks of bytes that make the registry's text when written one after the other: each metric's
   * text, the kept ones as they are kept. Each is written into bytes line by line (TextBytes), not made as strings
   * and joined: with thousands of SLOs those strings are megabytes on every scrape, made where only a full garbage
   * collection frees them.
   */
  async chunks(): Promise<Buffer[]> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE || Object.keys(this.defaultLabels()).length > 0)
      return [Buffer.from(await super.metrics())];
    const texts = await Promise.all(
      this.getMetricsAsArray().map(async ({ name }) => {
        const metric = this.getSingleMetric(name) as Metric;
        const versioned = metric as Metric & Partial<VersionedMetric & WrittenMetric>;
        const version = versioned.textVersion ? await versioned.textVersion() : undefined;
        const kept = this.texts.get(name);
        if (versioned.textVersion && kept && kept.version === version) return kept.bytes;
        const out = new TextBytes();
        let written = version;
        if (versioned.writeText) written = await versioned.writeText(out);
        else await writeMetric(metric, out);
        const bytes = out.bytes();
        if (versioned.textVersion) this.texts.set(name, { version: written, bytes });
        return bytes;
      }),
    );
    // Joined as the registry joins them: a blank line between metrics, a newline at the end.
    return [...texts.flatMap((text, i) => (i === 0 ? text : [BETWEEN, ...text])), END];
  }

  override async metrics(): Promise<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return super.metrics();
    return Buffer.concat(await this.chunks()).toString();
  }

  /** The labels setDefaultLabels gave every series (prom-client keeps them in a field it does not type). */
  private defaultLabels(): object {
    return (this as unknown as { _defaultLabels?: object })._defaultLabels ?? {};
  }
}

const BETWEEN = Buffer.from('\n\n');
const END = Buffer.from('\n');

/** How often the event loop's delay is sampled. */
const LOOP_SAMPLE_MS = 1000;

/**
 * The event loop's delay, in the gauges prom-client's default metrics have (`<prefix>nodejs_eventloop_lag_min_seconds`,
 * `_max_`, `_mean_`, `_stddev_`, `_p50_`, `_p90_`, `_p99_`): how late a timer due every LOOP_SAMPLE_MS ran, over its
 * runs since the gauges were last read; 0 when it has not run since (reads less than a second apart).
 *
 * Each run is a wake-up of an otherwise idle process: prom-client samples every 10 ms by default, most of what an idle
 * engine spent, and every 100 ms was still 30% of it (bench/README.md, idle). Once a second, a block of the loop of B
 * seconds shows as a run between B − 1 and B s late when B is a second or more, and a shorter one is seen in
 * proportion to its length; how late evaluations and escalation steps started is measured on its own
 * (sloe_evaluation_lag_seconds, sloe_escalation_step_lag_seconds). prom-client's gauges read the time between two runs
 * (the interval plus the lateness) from `monitorEventLoopDelay`, whose reset also drops the run after it: these keep
 * their own due time, so a read loses no run.
 */
function eventLoopDelayGauges(registry: Registry, prefix: string): void {
  const histogram = createHistogram();
  let due = performance.now() + LOOP_SAMPLE_MS;
  setInterval(() => {
    const now = performance.now();
    // In ns, at least 1 (what a histogram records); a run a fraction of a millisecond early is on time.
    histogram.record(Math.max(1, Math.round((now - due) * 1e6)));
    due = now + LOOP_SAMPLE_MS;
  }, LOOP_SAMPLE_MS).unref();
  // Each gauge's figure of the histogram (in ns) and its help, as prom-client has them.
  const gauges: Record<string, [help: string, figure: () => number]> = {
    min: ['The minimum recorded event loop delay.', () => histogram.min],
    max: ['The maximum recorded event loop delay.', () => histogram.max],
    mean: ['The mean of the recorded event loop delays.', () => histogram.mean],
    stddev: ['The standard deviation of the recorded event loop delays.', () => histogram.stddev],
    p50: ['The 50th percentile of the recorded event loop delays.', () => histogram.percentile(50)],
    p90: ['The 90th percentile of the recorded event loop delays.', () => histogram.percentile(90)],
    p99: ['The 99th percentile of the recorded event loop delays.', () => histogram.percentile(99)],
  };
  // The runs are read, and the histogram reset, when a gauge is collected whose figure was already served from the
  // last read: a scrape collects each gauge once, in any order, and the next one reads again.
  let figures: Map<string, number> | null = null;
  const served = new Set<string>();
  for (const [figure, [help]] of Object.entries(gauges)) {
    const name = `${prefix}nodejs_eventloop_lag_${figure}_seconds`;
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (served.size === 0 || served.has(figure)) {
          figures =
            histogram.count > 0 ? new Map(Object.entries(gauges).map(([f, [, read]]) => [f, read() / 1e9])) : null;
          histogram.reset();
          served.clear();
        }
        served.add(figure);
        this.set(figures?.get(figure) ?? 0);
      },
    });
  }
}

export class EngineMetrics {
  readonly registry = new CachingRegistry();
  readonly evaluations: Counter<'slo' | 'result'>;
  readonly evaluationDuration: Histogram;
  readonly evaluationLag: Histogram;
  readonly evaluationCompletion: Histogram;
  readonly notifications: Counter<'channel' | 'kind' | 'outcome'>;
  readonly stepLag: Histogram;
  readonly configReloads: Counter<'result'>;
  readonly openIncidents: Gauge<'severity'>;
  readonly lastEvaluationSuccess: Gauge<'interval' | 'shard'>;
  readonly heartbeats: Counter<'outcome'>;

  constructor(openIncidents: () => Promise<Record<string, number>>) {
    const registers = [this.registry];
    // prom-client's event-loop delay histogram would sample every `eventLoopMonitoringPrecision` ms: its gauges are
    // replaced by eventLoopDelayGauges(), and its own monitor is given the longest interval there is (2^31 − 1 ms, 24.8
    // days: Node keeps the low 32 bits of the interval, so 2^32 or more would wrap around to a short one).
    collectDefaultMetrics({ register: this.registry, prefix: 'sloe_', eventLoopMonitoringPrecision: 2 ** 31 - 1 });
    eventLoopDelayGauges(this.registry, 'sloe_');
    this.evaluations = new Counter({
      name: 'sloe_evaluations_total',
      help: 'SLO evaluations by result (ok, breach, nodata, error)',
      labelNames: ['slo', 'result'],
      registers,
    });
    this.evaluationDuration = new Histogram({
      name: 'sloe_evaluation_duration_seconds',
      help: 'Time to evaluate one SLO, queries included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.evaluationLag = new Histogram({
      name: 'sloe_evaluation_lag_seconds',
      help: 'How late an evaluation job started after it was due (sloe keeping up with its SLOs)',
      // 1.5 and 2 show whether the p99 keeps within the 2 s a large configuration is held to.
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.evaluationCompletion = new Histogram({
      name: 'sloe_evaluation_completion_seconds',
      help: 'How long after it was due a shard of SLOs was evaluated in full (the slowest shard bounds the cycle)',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120],
      registers,
    });
    this.notifications = new Counter({
      name: 'sloe_notifications_total',
      help: 'Escalation steps and incident updates by channel, kind (step, update) and outcome (sent, failed, skipped)',
      labelNames: ['channel', 'kind', 'outcome'],
      registers,
    });
    this.stepLag = new Histogram({
      name: 'sloe_escalation_step_lag_seconds',
      help: 'How late an escalation step ran after firedAt + after',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.configReloads = new Counter({
      name: 'sloe_config_reloads_total',
      help: 'Configuration reloads by result (ok, invalid)',
      labelNames: ['result'],
      registers,
    });
    this.lastEvaluationSuccess = new Gauge({
      name: 'sloe_last_evaluation_success_timestamp_seconds',
      help: 'When a shard of SLOs (those sharing an interval, in groups of 50) was last evaluated in full without a Prometheus or store error, unix seconds; alert when it goes stale',
      labelNames: ['interval', 'shard'],
      registers,
    });
    this.heartbeats = new Counter({
      name: 'sloe_heartbeats_total',
      help: 'GETs of SLOE_HEARTBEAT_URL by outcome (sent, failed, skipped while the last one was still waiting)',
      labelNames: ['outcome'],
      registers,
    });
    this.openIncidents = new Gauge({
      name: 'sloe_open_incidents',
      help: 'Incidents not yet resolved, by severity',
      labelNames: ['severity'],
      registers,
      async collect() {
        const counts = await openIncidents().catch(() => undefined);
        if (!counts) return;
        for (const [severity, count] of Object.entries(counts)) this.set({ severity }, count);
      },
    });
  }
}
