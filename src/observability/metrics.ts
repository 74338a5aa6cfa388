/** The engine's own Prometheus metrics (`sloe_` prefix). SLO ids are labels; user ids never are. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A metric whose text a scrape renders again only when it changed: `textVersion()`, called first at each scrape (it
 * may bring the metric's values up to date), returns a value that differs from the last one whenever they changed.
 */
export interface VersionedMetric {
  textVersion(): Promise<unknown>;
}

/**
 * A registry that keeps the text of each VersionedMetric between scrapes: the SLO gauges (hundreds of lines a
 * hundred SLOs, the most of a scrape's work) change once a budget refresh or when an incident opens or closes, and
 * are scraped every 15 s or so. The text is the same as the registry's own rendering.
 */
export class CachingRegistry extends Registry {
  /** Each VersionedMetric's text as bytes, with the version it was rendered at. */
  private readonly texts = new Map<string, { version: unknown; bytes: Buffer }>();

  /**
   * The exposition as chunks of bytes that make the registry's text when written one after the other: each metric's
   * text, the kept ones as they are kept. A scrape writes them out instead of joining every metric into one string
   * and encoding that (megabytes with thousands of SLOs, on every scrape, left for the garbage collector).
   */
  async chunks(): Promise<Buffer[]> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return [Buffer.from(await super.metrics())];
    const texts = await Promise.all(
      this.getMetricsAsArray().map(async ({ name }) => {
        const metric = this.getSingleMetric(name) as Partial<VersionedMetric> | undefined;
        if (!metric?.textVersion) return Buffer.from(await this.getSingleMetricAsString(name));
        const version = await metric.textVersion();
        const kept = this.texts.get(name);
        if (kept && kept.version === version) return kept.bytes;
        const bytes = Buffer.from(await this.getSingleMetricAsString(name));
        this.texts.set(name, { version, bytes });
        return bytes;
      }),
    );
    // Joined as the registry joins them: a blank line between metrics, a newline at the end.
    return [...texts.flatMap((text, i) => (i === 0 ? [text] : [BETWEEN, text])), END];
  }

  override async metrics(): Promise<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return super.metrics();
    return Buffer.concat(await this.chunks()).toString();
  }
}

const BETWEEN = Buffer.from('\n\n');
const END = Buffer.from('\n');

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
    // The event-loop lag histogram samples on a timer; prom-client's default (every 10 ms) was most of what an idle
    // engine spent. Every 100 ms still shows the lags that matter to step timing, at a sixth of the cost.
    collectDefaultMetrics({ register: this.registry, prefix: 'sloe_', eventLoopMonitoringPrecision: 100 });
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
