/**
 * `npm run demo`: the engine's main job on a local default. Starts Redis, Prometheus and a synthetic LLM assistant
 * on this machine (installing Redis and Prometheus when missing, as root), runs `sloe run` on a demo policy with
 * short delays, injects a latency incident, and narrates what happens: breach, incident, each escalation step,
 * recovery, resolution. It ends with the status page URL and `sloe report` of the demo's SLOs; `--keep` keeps
 * everything up (status page included) until Ctrl-C. Then it stops everything. SLOE_DEMO_SPEED=fast runs it at 2.5× speed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from '../local/binaries.js';
import { Exporter } from '../local/exporter.js';
import { freePort } from '../local/process.js';
import { type LocalPrometheus, startPrometheus } from '../local/prometheus.js';
import { type LocalRedis, startRedis } from '../local/redis.js';
import { sleep } from '../util/async.js';
import { SyntheticAssistant, demoSlos } from './assistant.js';

const scale = process.env.SLOE_DEMO_SPEED === 'fast' ? 0.4 : 1;
const seconds = (s: number) => `${Math.max(1, Math.round(s * scale))}s`;
const ms = (s: number) => Math.round(s * scale * 1000);
const color = process.stdout.isTTY;
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const started = Date.now();
const keep = process.argv.includes('--keep');

function say(who: string, text: string, code = 0): void {
  const t = Math.round((Date.now() - started) / 1000);
  const clock = `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
  process.stdout.write(`${paint(90, clock)}  ${paint(36, who.padEnd(10))} ${code ? paint(code, text) : text}\n`);
}

interface LogLine {
  event?: string;
  msg: string;
  step?: string;
  channel?: string;
  target?: string;
  incidentId?: string;
  [k: string]: unknown;
}

async function main(): Promise<number> {
  say(
    'demo',
    `sloe demo: an LLM assistant, its SLOs, and one latency incident (${scale === 1 ? 'about 3 minutes' : 'fast mode'})`,
    1,
  );
  ensureBinaries(['prometheus', 'promtool', 'redis-server'], (line) => say('setup', line));
  const dir = await mkdtemp(join(tmpdir(), 'sloe-demo-'));
  const exporter = new Exporter();
  const assistant = new SyntheticAssistant(exporter);
  let redis: LocalRedis | undefined;
  let prometheus: LocalPrometheus | undefined;
  let sloe: ReturnType<typeof spawn> | undefined;
  try {
    const target = await exporter.start();
    assistant.start();
    say('assistant', `serving golden-signal metrics at http://${target}/metrics (p95 ≈ 2 s, 0.5% errors)`);
    [redis, prometheus] = await Promise.all([
      startRedis(),
      startPrometheus({ scrape: { targets: [target], interval: '1s' } }),
    ]);
    say('setup', `Redis at ${redis.url}, Prometheus at ${prometheus.url} (scraping every second)`);
    await writeFile(join(dir, 'demo.yaml'), demoSlos(seconds));
    say(
      'setup',
      `SLOs: latency-p95 alerts when p95 > 5 s for ${seconds(20)}; policy: Slack now, PagerDuty after ${seconds(20)}, on-call after ${seconds(40)}`,
    );

    const port = await freePort();
    // The API needs a bearer token; this run makes up its own.
    const apiToken = randomBytes(16).toString('hex');
    const bin = fileURLToPath(new URL('../../bin/sloe.js', import.meta.url));
    sloe = spawn(process.execPath, [bin, 'run', dir], {
      // Reads (the status page) are open: the demo runs on this machine only, with a made-up token for changes.
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        PROMETHEUS_URL: prometheus.url,
        SLOE_PORT: String(port),
        SLOE_REDIS_PREFIX: 'sloe-demo',
        SLOE_API_TOKEN: apiToken,
        SLOE_API_PUBLIC_READ: '1',
        SLOE_BUDGET_REFRESH: '5s',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const events: LogLine[] = [];
    let buffer = '';
    sloe.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const l = JSON.parse(line) as LogLine;
          events.push(l);
          narrate(l);
        } catch {
          say('sloe', line);
        }
      }
    });
    const exited = new Promise<number | null>((resolve) => sloe!.on('exit', (code) => resolve(code)));
    await until(() => events.some((l) => l.event === 'ready'), 30_000, 'sloe run to connect');

    await sleep(ms(10));
    assistant.setSlow(true);
    say('assistant', 'incident injected: the model answers slowly (p95 ≈ 8.5 s)', 33);
    await until(
      () => events.some((l) => l.event === 'notification' && l.step === 'page.2'),
      ms(120),
      'the on-call step',
    );
    await sleep(ms(5));
    assistant.setSlow(false);
    say('assistant', 'recovered: answers are fast again', 32);
    const resolved = await until(() => events.find((l) => l.event === 'incident-resolved'), ms(120), 'the resolution');

    const res = await fetch(`http://127.0.0.1:${port}/api/incidents/${resolved.incidentId}`, {
      headers: { authorization: `Bearer ${apiToken}` },
    });
    const { incident, audit } = (await res.json()) as {
      incident: Record<string, unknown>;
      audit: Array<{ at: string; type: string; by?: string; step?: string; detail: string }>;
    };
    say('demo', `audit trail of incident ${String(incident.id)} (GET /api/incidents/${String(incident.id)}):`, 1);
    for (const a of audit)
      process.stdout.write(
        `           ${a.at.slice(11, 19)}  ${a.type.padEnd(9)} ${a.step ? `${a.step} ` : ''}${a.detail}\n`,
      );

    say('demo', `sloe report (incidents from Redis, as \`sloe run\` recorded them):`, 1);
    const report = spawnSync(process.execPath, [bin, 'report', dir], {
      env: { ...process.env, REDIS_URL: redis.url, PROMETHEUS_URL: prometheus.url, SLOE_REDIS_PREFIX: 'sloe-demo' },
      encoding: 'utf8',
    });
    process.stdout.write(report.stdout.replace(/^/gm, '           ') + (report.status === 0 ? '' : report.stderr));
    const statusUrl = `http://127.0.0.1:${port}/`;
    say('demo', `status page: ${statusUrl} (incident page: ${statusUrl}incidents/${String(incident.id)})`, 1);
    if (keep) {
      say('demo', 'kept up until Ctrl-C (--keep)');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    sloe.kill('SIGTERM');
    const code = await exited;
    say('sloe', `stopped cleanly (exit ${code})`);
    return code === 0 ? 0 : 1;
  } finally {
    if (sloe && sloe.exitCode === null) sloe.kill('SIGKILL');
    assistant.stop();
    await Promise.allSettled([exporter.stop(), prometheus?.stop(), redis?.stop()]);
    await rm(dir, { recursive: true, force: true });
    say('demo', 'Prometheus, Redis and the assistant stopped; temporary files removed');
  }
}

function narrate(l: LogLine): void {
  switch (l.event) {
    case 'starting':
      return say('sloe', l.msg);
    case 'channel-log-only':
      return say('sloe', `${String(l.channel)}: not configured, printed here instead`, 90);
    case 'ready':
      return say('sloe', 'connected to Redis; evaluating every SLO every 2 s');
    case 'incident-fired':
      return say('sloe', `INCIDENT ${l.msg}`, 31);
    case 'notification':
      return say(
        `→ ${String(l.channel)}`,
        `${String(l.target)}: ${l.msg.replace(/^\S+ \(log only\): /, '')} (owner ${String(l.owner)}, ${String(l.dashboard)})`,
        35,
      );
    case 'step-skipped':
    case 'incident-acknowledged':
      return say('sloe', l.msg);
    case 'incident-resolved':
      return say('sloe', `RESOLVED ${l.msg.replace(/^resolved: /, '')}`, 32);
    case 'notification-update':
      return say(`→ ${String(l.channel)}`, l.msg.replace(/^\S+ \(log only\): /, ''), 35);
    case 'evaluation-failed':
    case 'redis-unavailable':
      return say('sloe', l.msg, 31);
    case 'stopping':
      return say('sloe', 'SIGTERM: finishing running jobs');
    default:
      return undefined;
  }
}

async function until<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`the demo waited too long for ${what}`);
    await sleep(200);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sloe demo: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
