import { describe, expect, it } from 'vitest';
import { channelsFromEnv } from '../../src/escalation/channels.js';
import { freePort } from '../../src/local/process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { type SloeProcess, spawnSloe } from '../support/process.js';

const ctx = useStack();
const TOKEN = 'redaction-api-token';
/** What must never appear anywhere: the parts of the credentials put into URLs below. */
const SECRETS = ['s3cretpass', 'sloeuser:', 'tok-s3cret', 'pds3cret', 'pduser:'];

function leaked(where: string, text: string): string[] {
  return SECRETS.filter((s) => text.includes(s)).map((s) => `${where} shows ${s}`);
}

/** Everything a running engine shows over HTTP: readiness, metrics, and every incident with its audit trail. */
async function answers(port: number): Promise<Record<string, string>> {
  const get = async (path: string) =>
    (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const out: Record<string, string> = {
    '/readyz': await get('/readyz'),
    '/metrics': await get('/metrics'),
    '/api/incidents': await get('/api/incidents'),
  };
  for (const { id } of (JSON.parse(out['/api/incidents']!) as { incidents: Array<{ id: string }> }).incidents)
    out[`/api/incidents/${id}`] = await get(`/api/incidents/${id}`);
  return out;
}

async function leaksOf(p: SloeProcess): Promise<string[]> {
  const http = await answers(p.port);
  return [
    ...Object.entries(http).flatMap(([path, text]) => leaked(path, text)),
    ...p.lines.flatMap((l) => leaked(`log line ${String(l.event ?? l.msg)}`, JSON.stringify(l))),
    ...leaked('stderr', p.stderr.join('')),
  ];
}

async function sloeRun(env: NodeJS.ProcessEnv, slo = queueSlo({ noDataFor: '2s' })) {
  const paths = [await writeSlos(ctx.stack.dir, slo)];
  const p = spawnSloe(
    ['run', paths[0]!],
    {
      REDIS_URL: ctx.stack.redis.url,
      SLOE_REDIS_PREFIX: `redact${Date.now()}${Math.random()}`,
      SLOE_API_TOKEN: TOKEN,
      ...env,
    },
    await freePort(),
  );
  ctx.processes.push(p);
  await p.waitFor('ready', (l) => l.event === 'ready');
  return p;
}

const incidents = async (p: SloeProcess) =>
  (
    (await (
      await fetch(`http://127.0.0.1:${p.port}/api/incidents`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { incidents: Array<{ message: string; reason: string }> }
  ).incidents;

describe('credentials in URLs never leak', () => {
  it('PROMETHEUS_URL with userinfo, Prometheus live: it works; its timeouts reach readiness, logs and a no-data incident without them', async () => {
    // The live Prometheus, and the same Prometheus behind a proxy that delays every answer by 300 ms: a 1 ms
    // timeout alone is not a timeout on every query, since a local Prometheus may answer a small query within 1 ms.
    const slow = new TcpProxy('127.0.0.1', ctx.stack.prometheus.port, 300);
    await slow.start();
    try {
      const url = (port: number) => `http://sloeuser:s3cretpass@127.0.0.1:${port}`;
      // One engine with a sane timeout, one whose every query times out against the same, live Prometheus.
      const [working, timingOut] = await Promise.all([
        sloeRun({ PROMETHEUS_URL: url(ctx.stack.prometheus.port) }),
        sloeRun({ PROMETHEUS_URL: url(slow.port), PROMETHEUS_TIMEOUT: '0.05' }),
      ]);
      await working.waitFor('an evaluation', (l) => l.event === 'evaluated');
      expect(JSON.parse(await (await fetch(`http://127.0.0.1:${working.port}/readyz`)).text())).toMatchObject({
        prometheus: 'ok',
      });

      const nodata = await eventually(
        'a no-data incident',
        async () => (await incidents(timingOut)).find((i) => i.reason === 'nodata'),
        // The whole test takes about 10 s alone; two engines starting side by side on a loaded machine take longer.
        60_000,
      );
      expect([...(await leaksOf(working)), ...(await leaksOf(timingOut))]).toEqual([]);
      expect(nodata.message).toMatch(
        new RegExp(`Prometheus at http://127\\.0\\.0\\.1:${slow.port} did not answer within 50 ms`),
      );
      expect(timingOut.lines.some((l) => l.event === 'evaluation-failed')).toBe(true);
    } finally {
      await slow.stop();
    }
  }, 120_000);

  it('PROMETHEUS_URL with userinfo and ?access_token= on a dead port: errors everywhere, credentials nowhere', async () => {
    const dead = await freePort();
    const p = await sloeRun({
      PROMETHEUS_URL: `http://sloeuser:s3cretpass@127.0.0.1:${dead}/?access_token=tok-s3cret&x=1`,
    });
    const nodata = await eventually(
      'a no-data incident',
      async () => (await incidents(p)).find((i) => i.reason === 'nodata'),
      30_000,
    );
    expect(await leaksOf(p)).toEqual([]);
    expect(nodata.message).toContain(
      `Prometheus at http://127.0.0.1:${dead}/?access_token=[redacted]&x=1 is unreachable`,
    );
    expect(p.lines.some((l) => l.event === 'evaluation-failed')).toBe(true);
  });

  it('channel errors: a PagerDuty server with credentials fails a step; the log, the audit trail and the note do not show them', async () => {
    const dead = await freePort();
    const env = {
      PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY',
      PAGERDUTY_EVENTS_SERVER: `pduser:pds3cret@127.0.0.1:${dead}`,
      SLOE_API_TOKEN: TOKEN,
    };
    const setup = channelsFromEnv(env);
    const { engine, capture } = await startEngine(
      ctx.stack,
      [await writeSlos(ctx.stack.dir, queueSlo({ after: ['1s', '1h'] }))],
      { env, channels: setup.channels, routes: setup.routes },
    );
    ctx.engines.push(engine);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const failed = await eventually('the PagerDuty step failed', () => capture.events('step-failed')[0], 30_000);
    await eventually('the failure noted', () =>
      capture.lines.find((l) => l.event === 'notification-update' && String(l.msg).includes('Escalation step failed')),
    );
    const http = await answers(engine.port);
    expect([
      ...Object.entries(http).flatMap(([path, text]) => leaked(path, text)),
      ...capture.raw.flatMap((l) => leaked(`log line ${String(JSON.parse(l).event)}`, l)),
    ]).toEqual([]);
    expect(String(failed.error)).toContain(`https://127.0.0.1:${dead}/v2/enqueue`);
    expect(Object.keys(http).some((k) => /^\/api\/incidents\/\w+$/.test(k))).toBe(true);
  });
});
