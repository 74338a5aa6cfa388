/**
 * The chaos run's world: a real Redis (append-only file, so a restart may keep or lose its data), a real
 * Prometheus scraping an exporter whose gauges the run sets, the Slack and PagerDuty stand-ins, and `sloe run`
 * replicas as real processes kept running by a supervisor that counts the exits nobody asked for.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { globalAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Exporter } from '../../src/local/exporter.js';
import { freePort } from '../../src/local/process.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { type SloeProcess, pidOfConnection, spawnSloe } from '../../test/support/process.js';
import { PagerDutyStandIn } from '../../test/support/stand-ins/pagerduty.js';
import { SlackStandIn } from '../../test/support/stand-ins/slack.js';
import { type TestCa, makeTestCa } from '../../test/support/tls.js';
import type { Plan, Profile } from './plan.js';
import { sleep } from '../../src/util/async.js';

export const SLACK_TOKEN = 'xoxb-chaos-token';
export const SIGNING_SECRET = 'chaos-signing-secret';
export const ROUTING_KEY = 'R0UTINGKEYCHAOS0000000000000001';
export const API_TOKEN = 'chaos-api-token';
export const REDIS_PREFIX = 'chaos';

export const CHANNELS = { page: '#chaos-alerts', escalate: '#chaos-escalations', ticket: '#chaos-tickets' } as const;

/** The SLO files: one policy, six SLOs on gauges the run sets (bad = 500, healthy = 10; alert when > 100). */
export function chaosSlos(plan: Plan): string {
  const p = plan.profile;
  const slos = plan.slos
    .map((id) => {
      const name = id.split('/')[1]!;
      return `  - name: ${name}
    signal: custom
    dashboard: chaos
    query: max(chaos_value{slo="${name}"})
    objective: "< 50"
    noDataFor: ${p.noDataForS}s
    alert: { when: "> 100", for: ${p.forS}s, resolveAfter: ${p.resolveAfterS}s }`;
    })
    .join('\n');
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: chaos
page:
  - notify: slack
    channel: "${CHANNELS.page}"
  - after: ${p.pagerDutyAfterS}s
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}
  - after: ${p.escalateAfterS}s
    notify: slack
    channel: "${CHANNELS.escalate}"
ticket:
  - notify: slack
    channel: "${CHANNELS.ticket}"
---
apiVersion: sloe/v1
kind: ServiceLevels
service: chaos
owner: reliability
escalation: chaos
interval: ${p.intervalS}s
dashboards: [{ id: chaos, title: Chaos, url: "https://grafana.example.com/d/chaos", owner: carol }]
slos:
${slos}
`;
}

/** A replica: its process now, and every process it has had. */
export interface Replica {
  index: number;
  port: number;
  current: SloeProcess | undefined;
  /** Set while the run itself stops or kills it: that exit is expected. */
  expectExit: boolean;
  starts: number;
}

export interface UnexpectedExit {
  replica: number;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last error lines it logged, and its stderr. */
  last: string[];
}

export class World {
  readonly exporter = new Exporter();
  readonly replicas: Replica[] = [];
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Replica processes that ran for a minute without becoming ready. */
  readonly neverReady: Array<{ replica: number; at: number }> = [];
  /** Starts refused because the SLO files were invalid then (exit 1 before ready, as documented). */
  readonly refusedStarts: Array<{ replica: number; at: number; reason: string }> = [];
  redis!: LocalRedis;
  prometheus: LocalPrometheus | undefined;
  prometheusPort = 0;
  slack!: SlackStandIn;
  pagerduty!: PagerDutyStandIn;
  dir = '';
  slosDir = '';
  private ca!: TestCa;
  private scrapeTarget = '';
  private env: NodeJS.ProcessEnv = {};
  private logs: WriteStream[] = [];
  private stopping = false;

  constructor(
    readonly plan: Plan,
    readonly say: (line: string) => void,
    /** Where the replicas' logs go (kept after the run); a temporary directory when not given. */
    readonly logDir?: string,
  ) {}

  get profile(): Profile {
    return this.plan.profile;
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'sloe-chaos-'));
    this.slosDir = join(this.dir, 'slos');
    await mkdir(this.slosDir, { recursive: true });
    await writeFile(join(this.slosDir, 'chaos.yaml'), chaosSlos(this.plan));
    for (const slo of this.plan.slos) this.setGauge(slo, false);
    this.scrapeTarget = await this.exporter.start();
    this.ca = makeTestCa();
    // The stand-in's certificate is signed by a test CA: trust it here (signed clicks go over plain HTTP).
    globalAgent.options.ca = [this.ca.ca];
    this.slack = new SlackStandIn(SLACK_TOKEN);
    this.pagerduty = new PagerDutyStandIn(this.ca, ROUTING_KEY);
    this.prometheusPort = await freePort();
    const [redis] = await Promise.all([startRedis({ persist: true }), this.slack.start(), this.pagerduty.start()]);
    this.redis = redis;
    this.env = {
      REDIS_URL: this.redis.url,
      PROMETHEUS_URL: `http://127.0.0.1:${this.prometheusPort}`,
      SLOE_REDIS_PREFIX: REDIS_PREFIX,
      LOG_LEVEL: 'info',
      SLACK_BOT_TOKEN: SLACK_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: this.slack.url,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_SERVER: this.pagerduty.server_,
      PAGERDUTY_API_SERVER: this.pagerduty.server_,
      SLOE_API_TOKEN: API_TOKEN,
      SLOE_API_PUBLIC_READ: '1',
      SLOE_LOCK_DURATION_MS: String(this.profile.lockDurationMs),
      SLOE_STALLED_INTERVAL_MS: String(this.profile.stalledIntervalMs),
      SLOE_CLAIM_TTL_MS: String(this.profile.claimTtlMs),
      NODE_EXTRA_CA_CERTS: this.ca.caFile,
    };
    const logDir = this.logDir ?? join(this.dir, 'logs');
    await mkdir(logDir, { recursive: true });
    for (let i = 0; i < this.profile.replicas; i++) {
      const replica: Replica = { index: i, port: await freePort(), current: undefined, expectExit: false, starts: 0 };
      this.replicas.push(replica);
      const log = createWriteStream(join(logDir, `replica-${i + 1}.log`), { flags: 'w' });
      this.logs.push(log);
    }
    // The replicas need Redis to be ready; Prometheus starts meanwhile.
    await Promise.all([
      this.startPrometheus().then(() => this.waitForScrape()),
      ...this.replicas.map((r) => this.startReplica(r)),
    ]);
  }

  /**
   * Starts Prometheus on its fixed port. `fresh`: without the data of before. A restarted Prometheus that keeps its
   * data answers with the last samples scraped before it stopped until it scrapes again; those healthy values can
   * resolve a no-data ticket just before the breach that should raise it shows, which leaves the raise untried.
   */
  async startPrometheus(fresh = false): Promise<void> {
    const dir = join(this.dir, 'prometheus');
    if (fresh) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    this.prometheus = await startPrometheus({
      dir,
      port: this.prometheusPort,
      scrape: { targets: [this.scrapeTarget], interval: '1s' },
    });
  }

  async stopPrometheus(): Promise<void> {
    const p = this.prometheus;
    this.prometheus = undefined;
    await p?.stop();
  }

  private async waitForScrape(): Promise<void> {
    for (let i = 0; i < 150; i++) {
      const r = await fetch(`http://127.0.0.1:${this.prometheusPort}/api/v1/query?query=chaos_value`)
        .then((x) => x.json() as Promise<{ data?: { result: unknown[] } }>)
        .catch(() => undefined);
      if ((r?.data?.result.length ?? 0) >= this.plan.slos.length) return;
      await sleep(200);
    }
    throw new Error('Prometheus did not scrape the chaos exporter within 30 s');
  }

  setGauge(slo: string, bad: boolean): void {
    this.exporter.gauge('chaos_value', ['slo']).set({ slo: slo.split('/')[1]! }, bad ? 500 : 10);
  }

  /** The base URLs of the replicas that run now. */
  liveUrls(): string[] {
    return this.replicas.filter(running).map((r) => `http://127.0.0.1:${r.port}`);
  }

  /** Starts a replica's process and waits until it is ready (or has exited). */
  async startReplica(replica: Replica): Promise<void> {
    if (this.stopping || running(replica)) return;
    replica.expectExit = false;
    replica.starts++;
    const p = spawnSloe(['run', this.slosDir], this.env, replica.port);
    replica.current = p;
    const log = this.logs[replica.index]!;
    p.child.stdout?.on('data', (d: Buffer) => log.write(d));
    p.child.stderr?.on('data', (d: Buffer) => log.write(`[stderr] ${d.toString()}`));
    p.child.on('exit', (code, signal) => {
      log.write(`[chaos] replica ${replica.index + 1} exited (${code ?? signal})\n`);
      if (replica.expectExit || this.stopping) return;
      const stderr = p.stderr.join('');
      if (code === 1 && !p.lines.some((l) => l.event === 'ready') && stderr.includes('nothing to run')) {
        // Started while an invalid file was in place: refused, as the contract says (exit 1), not a crash.
        this.refusedStarts.push({
          replica: replica.index + 1,
          at: Date.now(),
          reason: stderr.trim().split('\n')[0] ?? '',
        });
        this.say(`replica ${replica.index + 1} refused to start: ${stderr.trim().split('\n')[0]}`);
      } else {
        // What it died of: the last error its stderr shows, else its last error lines.
        const errors = stderr
          .split('\n')
          .filter((l) => /Error\b/.test(l) && !/^\s+at /.test(l))
          .slice(-1);
        const last = errors.length
          ? errors.map((l) => l.trim())
          : p.lines
              .filter((l) => l.level === 'error' || l.level === 'fatal')
              .slice(-2)
              .map((l) => `${l.event ?? ''} ${l.msg}`);
        this.unexpectedExits.push({ replica: replica.index + 1, at: Date.now(), code, signal, last });
        this.say(
          `replica ${replica.index + 1} exited unexpectedly (${code ?? signal}): ${last.join(' | ').slice(0, 300)}`,
        );
      }
      // As a supervisor (systemd, Kubernetes) would: start it again after a moment.
      setTimeout(
        () =>
          void this.startReplica(replica).catch((e: Error) =>
            this.say(`restarting replica ${replica.index + 1}: ${e.message}`),
          ),
        3000,
      );
    });
    await p
      .waitFor('ready', (l) => l.event === 'ready', 60_000)
      .catch(() => {
        // Still running but not working after a minute: an engine that looks alive and evaluates nothing.
        if (p.child.exitCode === null && p.child.signalCode === null && !this.stopping) {
          this.neverReady.push({ replica: replica.index + 1, at: Date.now() });
          this.say(`replica ${replica.index + 1} runs but is not ready after 60 s`);
        }
      });
  }

  /** Stops a replica on purpose: SIGTERM (graceful, SIGKILL after `graceMs`) or SIGKILL. */
  async stopReplica(replica: Replica, signal: 'SIGTERM' | 'SIGKILL', graceMs = 30_000): Promise<void> {
    const p = replica.current;
    if (!p || !running(replica)) return;
    replica.expectExit = true;
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(timer);
  }

  /** Waits until every replica runs and is ready (at most `timeoutMs`); whether they are. */
  async replicasSteady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const steady = () => this.replicas.every((r) => running(r) && r.current!.lines.some((l) => l.event === 'ready'));
    while (!steady() && Date.now() < deadline) await sleep(200);
    return steady();
  }

  /**
   * Sends SIGHUP (reload the SLO files) to every replica that runs, one still starting too: `sloe run` catches it
   * from the moment its code runs. Only a process whose Node runtime is still booting (it catches no SIGHUP yet, as
   * /proc says) is left alone: nothing can catch a signal then.
   */
  async hangUpReplicas(): Promise<void> {
    for (const r of this.replicas) {
      const pid = r.current?.child.pid;
      if (running(r) && pid !== undefined && (await catchesSighup(pid))) r.current!.kill('SIGHUP');
    }
  }

  /** The replica whose process holds the client end of a connection to the stand-in on `serverPort`. */
  async replicaOfConnection(clientPort: number, serverPort: number): Promise<Replica | undefined> {
    const pids = new Map(
      this.replicas.flatMap((r) => (r.current?.child.pid ? [[r.current.child.pid, r] as const] : [])),
    );
    const pid = await pidOfConnection(clientPort, [...pids.keys()], serverPort);
    return pid === undefined ? undefined : pids.get(pid);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // The run is over: a replica still retrying a delivery is not waited for long.
    await Promise.all(this.replicas.map((r) => this.stopReplica(r, 'SIGTERM', 2000)));
    for (const log of this.logs) log.end();
    this.redis?.resume();
    await Promise.all([
      this.redis?.stop(),
      this.stopPrometheus(),
      this.slack?.stop(),
      this.pagerduty?.stop(),
      this.exporter.stop(),
    ]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether a process has a handler for SIGHUP (bit 0 of SigCgt in /proc/<pid>/status). */
async function catchesSighup(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return mask !== undefined && (parseInt(mask.slice(-1), 16) & 1) === 1;
}

/** Whether the replica's process runs now. */
function running(r: Replica): boolean {
  return r.current !== undefined && r.current.child.exitCode === null && r.current.child.signalCode === null;
}
