/**
 * Request fuzzing of a running `sloe run`: thousands of random and hostile requests on raw sockets, against every
 * route (the API with its token set, Slack interactivity, PagerDuty webhooks). The generators are seeded, so a
 * failure names the request that caused it and the same run reproduces it.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { eventually, queueSlo, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';
import { type RawAnswer, rawRequest } from '../support/raw-http.js';
import { SlackStandIn } from '../support/stand-ins/slack.js';

const ctx = useStack();
const SEED = 20260511;
const REQUESTS = 5000;
const PARALLEL = 16;
/** Bodies over the 1 MiB limit are views of this one buffer: 5,000 requests need not hold 50 MiB of copies. */
const BIG = Buffer.alloc((1 << 20) + 70_000, 0x7b);
/** The most bytes sent after a request's declared end (see Fuzzed.framing). */
const PIPELINED_REST = 4096;
const API_TOKEN = 'fuzz-api-token-5b1c';
const SLACK_SIGNING_SECRET = 'fuzz-signing-secret';
const PAGERDUTY_WEBHOOK_SECRET = 'fuzz-webhook-secret';
/** The incident that changes are aimed at when a request carries the API token. */
const MISSING_ID = 'ffffffffffffffff';

/** Routes that answer 2xx to anyone: health, readiness, metrics. */
const OPEN = ['/healthz', '/readyz', '/metrics'];
const ROUTES = [
  ...OPEN,
  '/api/incidents',
  '/api/incidents/:id',
  '/api/incidents/:id/ack',
  '/api/incidents/:id/acknowledge',
  '/api/incidents/:id/resolve',
  '/api/incidents/:id/snooze',
  '/slack/events',
  '/webhooks/pagerduty',
  '/',
];

const VALID_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'MKCOL',
  'LOCK',
  'SEARCH',
  'PURGE',
  'QUERY',
  'SOURCE',
  'ACL',
  'M-SEARCH',
];
const BAD_ENCODINGS = ['%E0%A4%A', '%', '%zz', '%C0%AF', '%00', '%ff%fe', '%2', '%%', '%u0041', '%E2%82'];

interface Fuzzed {
  method: string;
  route: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /**
   * How the body is framed: its true length, chunked, badly chunked, a declared length never sent (then the client
   * closes), a declared length shorter than the body, or none. With the last two the rest of the body is a pipelined
   * request of garbage after one that asked to close the connection; node:http closes right after answering the
   * first, so a client still sending may see a reset instead (node:http has no lingering close): those rests are kept
   * to a few KiB, sent at once.
   */
  framing: 'exact' | 'chunked' | 'bad-chunked' | 'truncated' | 'none' | 'short';
  /** What gets it past authentication: the API token, or a valid Slack / PagerDuty signature. */
  credentials: 'none' | 'api' | 'signed';
  /** Random bytes instead of a request. */
  garbage?: Buffer;
}

function arbitraries(incidentId: string) {
  const text = (max: number) => fc.string({ unit: 'binary', maxLength: max });
  const ascii = (max: number) => fc.string({ unit: 'binary-ascii', maxLength: max });
  const printable = (max: number) => fc.string({ unit: 'grapheme-ascii', maxLength: max });
  const method = fc.oneof(
    { weight: 14, arbitrary: fc.constantFrom('GET', 'POST', 'POST', ...VALID_METHODS) },
    { weight: 1, arbitrary: fc.constantFrom('get', 'G(T', 'GET GET', 'BREW', 'POST\t', 'ÜBER', '', 'X'.repeat(100)) },
    { weight: 1, arbitrary: ascii(12) },
  );
  const id = fc.oneof(
    { weight: 8, arbitrary: fc.constant(incidentId) },
    { weight: 3, arbitrary: fc.stringMatching(/^[0-9a-f]{16}$/) },
    { weight: 2, arbitrary: fc.constantFrom(...BAD_ENCODINGS).map((e) => `${incidentId.slice(0, 4)}${e}`) },
    { weight: 1, arbitrary: fc.constantFrom('..', '%2E%2E', '%2F..%2F', 'x'.repeat(5000), 'é', '%F0%9F%98%80', ' ') },
    { weight: 1, arbitrary: text(40) },
  );
  const query = fc.oneof(
    { weight: 8, arbitrary: fc.constant('') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '?limit=-1',
        '?limit=1e309',
        '?limit=NaN',
        '?limit=99999999',
        '?status=open',
        '?status=%zz',
        '?cursor=AAAA',
        '?cursor=%E0%A4%A',
        '?limit=5&cursor=WzEsIngiXQ',
        '?a=1&a=2&a=3',
      ),
    },
    { weight: 1, arbitrary: printable(60).map((q) => `?${q.replace(/[ #]/g, '')}`) },
    { weight: 1, arbitrary: ascii(30).map((q) => `?${q}`) },
  );
  const target = fc
    .tuple(
      fc.constantFrom(...ROUTES),
      id,
      query,
      fc.constantFrom('', '', '', '', '', '/', '//', '/x', '/%E0%A4%A'),
      fc.constantFrom('', '', '', '', '', '', 'http://sloe.example', '//', '*'),
    )
    .map(([route, i, q, suffix, prefix]) => ({
      route,
      target: prefix === '*' ? '*' : `${prefix}${route.replace(':id', i)}${suffix}${q}`,
    }));
  // Header values printable (a request the parser accepts), and now and then hostile ones.
  const value = (max: number) =>
    fc.oneof({ weight: 9, arbitrary: printable(max).map((v) => v.trim()) }, { weight: 1, arbitrary: ascii(max) });
  const header = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(
        fc.constantFrom('content-type'),
        fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
          '',
        ),
      ),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(
        fc.constant('authorization'),
        fc.oneof(
          fc.constantFrom(
            'Bearer',
            'Bearer ',
            'Basic YTpi',
            `Bearer ${API_TOKEN.slice(0, -1)}`,
            `bearer  ${API_TOKEN}x`,
          ),
          value(80).map((t) => `Bearer ${t}`),
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.constant('x-slack-request-timestamp'),
        fc.oneof(
          fc.constant(String(Math.floor(Date.now() / 1000))),
          fc.constantFrom('0', '-1', '1e99', '99999999999999999999'),
          value(12),
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.constant('x-slack-signature'),
        fc.oneof(fc.stringMatching(/^v0=[0-9a-f]{64}$/), value(70)),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.constant('x-pagerduty-signature'),
        fc.oneof(fc.stringMatching(/^v1=[0-9a-f]{64}$/), value(70), fc.constant('v1=,v1=zz,,')),
      ),
    },
    { weight: 2, arbitrary: fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), value(40)) },
  );
  const hostileHeader = fc.oneof(
    fc.tuple(
      fc.constantFrom('content-length', 'transfer-encoding', 'expect', 'connection', 'upgrade', 'host'),
      value(20),
    ),
    fc.tuple(text(20), text(40)),
  );
  const headers = fc.oneof(
    { weight: 12, arbitrary: fc.array(header, { maxLength: 10 }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.array(header, { maxLength: 6 }), fc.array(hostileHeader, { minLength: 1, maxLength: 3 }))
        .map(([a, b]) => [...a, ...b]),
    },
    { weight: 1, arbitrary: fc.constant<Array<[string, string]>>([['x-huge', 'a'.repeat(20_000)]]) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 100, max: 3000 })
        .map((n) => Array.from({ length: n }, (_, i): [string, string] => [`x-h${i}`, 'v'])),
    },
  );
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const body = fc.oneof(
    { weight: 18, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 18, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json) },
    {
      weight: 12,
      arbitrary: fc
        .record(
          {
            by: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
            minutes: fc.oneof(fc.double(), fc.string()),
            duration: fc.constantFrom('25h', '1ms', '-1m', '999999999999h', 'soon', ''),
          },
          { requiredKeys: [] },
        )
        .map(json),
    },
    {
      weight: 12,
      arbitrary: fc
        .constantFrom(
          '{"by":',
          '[]',
          'null',
          '"x"',
          '{"event":{"event_type":"incident.acknowledged","data":{"incident_key":"sloe-ID"}}}',
          '{"__proto__":{"x":1}}',
        )
        .map((t) => Buffer.from(t.replace('ID', incidentId))),
    },
    {
      weight: 12,
      arbitrary: fc
        .oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constant({
            type: 'block_actions',
            user: { id: 'U1' },
            actions: [{ action_id: 'sloe_ack', value: incidentId }],
          }),
        )
        .map((p) => Buffer.from(`payload=${encodeURIComponent(JSON.stringify(p))}`)),
    },
    { weight: 6, arbitrary: printable(200).map((t) => Buffer.from(`payload=${t}&by=${t}`)) },
    { weight: 12, arbitrary: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((extra) => BIG.subarray(0, (1 << 20) + extra)) },
  );
  const framing = fc.constantFrom<Fuzzed['framing']>(
    'exact',
    'exact',
    'exact',
    'exact',
    'exact',
    'exact',
    'exact',
    'exact',
    'chunked',
    'chunked',
    'bad-chunked',
    'truncated',
    'none',
    'short',
  );
  const credentials = fc.constantFrom<Fuzzed['credentials']>(
    'none',
    'none',
    'none',
    'none',
    'none',
    'none',
    'api',
    'signed',
    'signed',
  );
  const host = fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
  const request: fc.Arbitrary<Fuzzed> = fc
    .record({ method, target, headers, body, framing, host, credentials })
    .map(({ method: m, target: t, headers: h, body: b, framing: f, host: withHost, credentials: c }) =>
      withCredentials(incidentId, {
        method: m,
        route: t.route,
        target: t.target,
        headers: withHost ? [['host', 'sloe.example'], ...h] : h,
        body: b,
        framing: f,
        credentials: c,
      }),
    );
  const garbage: fc.Arbitrary<Fuzzed> = fc.uint8Array({ minLength: 1, maxLength: 600 }).map((g) => ({
    method: '',
    route: '',
    target: '',
    headers: [],
    body: Buffer.alloc(0),
    framing: 'none',
    credentials: 'none',
    garbage: Buffer.from(g),
  }));
  return fc.oneof({ weight: 30, arbitrary: request }, { weight: 1, arbitrary: garbage });
}

/**
 * Adds what gets a request past the first check, so that the parsers behind it are fuzzed too: the API token (any
 * change then aims at an incident that does not exist: the open one must not change), or a valid Slack or PagerDuty
 * signature (never over a body naming the open incident, which could be a real Ack).
 */
function withCredentials(incidentId: string, r: Fuzzed): Fuzzed {
  if (r.credentials === 'api') {
    const read = r.method === 'GET' || r.method === 'HEAD';
    return {
      ...r,
      target: read ? r.target : r.target.split(incidentId).join(MISSING_ID),
      headers: [...r.headers, ['authorization', `Bearer ${API_TOKEN}`]],
    };
  }
  const text = r.body.toString('utf8');
  if (r.credentials !== 'signed' || text.includes(incidentId)) return { ...r, credentials: 'none' };
  if (r.route === '/slack/events') {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac('sha256', SLACK_SIGNING_SECRET).update(`v0:${timestamp}:${text}`).digest('hex')}`;
    return {
      ...r,
      headers: [...r.headers, ['x-slack-request-timestamp', timestamp], ['x-slack-signature', signature]],
    };
  }
  if (r.route === '/webhooks/pagerduty') {
    return {
      ...r,
      headers: [
        ...r.headers,
        ['x-pagerduty-signature', `v1=${createHmac('sha256', PAGERDUTY_WEBHOOK_SECRET).update(text).digest('hex')}`],
      ],
    };
  }
  return { ...r, credentials: 'none' };
}

/** The bytes of a fuzzed request, and whether the client stops sending (closes its side) after them. */
function serialize(r: Fuzzed): { parts: Buffer[]; halfClose: boolean } {
  if (r.garbage) return { parts: [r.garbage], halfClose: false };
  const lines = [`${r.method} ${r.target} HTTP/1.1`, ...r.headers.map(([k, v]) => `${k}: ${v}`), 'connection: close'];
  let body: Buffer[] = [];
  switch (r.framing) {
    case 'exact':
      lines.push(`content-length: ${r.body.length}`);
      body = [r.body];
      break;
    case 'chunked':
      lines.push('transfer-encoding: chunked');
      body =
        r.body.length === 0
          ? [Buffer.from('0\r\n\r\n')]
          : [Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from('\r\n0\r\n\r\n')];
      break;
    case 'bad-chunked':
      lines.push('transfer-encoding: chunked');
      body = [Buffer.from('zz\r\n'), r.body.subarray(0, 100), Buffer.from('\r\n-1\r\n')];
      break;
    case 'truncated':
      lines.push(`content-length: ${r.body.length + 1000}`);
      body = [r.body.subarray(0, Math.floor(r.body.length / 2))];
      break;
    case 'short': {
      const sent = r.body.subarray(0, PIPELINED_REST);
      lines.push(`content-length: ${Math.floor(sent.length / 2)}`);
      body = [sent];
      break;
    }
    case 'none':
      body = [r.body.subarray(0, PIPELINED_REST)];
      break;
  }
  return {
    parts: [Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), ...body],
    halfClose: r.framing === 'truncated',
  };
}

function describeRequest(index: number, r: Fuzzed): string {
  if (r.garbage) return `#${index} (seed ${SEED}): ${r.garbage.length} random bytes`;
  const names =
    r.headers.length > 12
      ? `${r.headers.length} headers`
      : `headers ${JSON.stringify(r.headers.map(([k, v]) => `${k}: ${v}`.slice(0, 60)))}`;
  return `#${index} (seed ${SEED}): ${JSON.stringify(r.method).slice(0, 40)} ${JSON.stringify(r.target).slice(0, 120)}, ${names}, ${r.body.length}-byte body framed ${r.framing}`;
}

describe('sloe run under request fuzzing', () => {
  it(`answers ${REQUESTS} random and hostile requests with 2xx/4xx, stays up, and no incident changes`, async () => {
    const slack = new SlackStandIn('xoxb-fuzz');
    await slack.start();
    try {
      const port = await freePort();
      const paths = [await writeSlos(ctx.stack.dir, queueSlo({ after: ['1s', '2s'] }))];
      const sloe = spawnSloe(
        ['run', paths[0]!],
        {
          REDIS_URL: ctx.stack.redis.url,
          PROMETHEUS_URL: ctx.stack.prometheus.url,
          SLOE_REDIS_PREFIX: `fuzz${Date.now()}`,
          SLOE_API_TOKEN: API_TOKEN,
          SLACK_BOT_TOKEN: 'xoxb-fuzz',
          SLACK_SIGNING_SECRET,
          SLACK_API_URL: slack.url,
          PAGERDUTY_WEBHOOK_SECRET,
        },
        port,
      );
      ctx.processes.push(sloe);
      await sloe.waitFor('ready', (l) => l.event === 'ready');
      const api = async (path: string) =>
        (
          await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
        ).json() as Promise<Record<string, unknown>>;

      // One incident, open, with its escalation run to the end: nothing but a request could change it now.
      ctx.stack.exporter.gauge('demo_queue_depth').set(350);
      const fired = await sloe.waitFor('an incident', (l) => l.event === 'incident-fired');
      const id = fired.incidentId!;
      await eventually('all steps run', async () => {
        const one = await api(`/api/incidents/${id}`);
        return (one.audit as Array<{ type: string }>).filter((a) => a.type === 'step').length === 3 ? one : undefined;
      });
      // The last step's note reaches the incident's thread after the step is recorded: wait for it too, or it lands
      // in the middle of the fuzzing and reads as a change a request made.
      await eventually('the on-call note in the thread', async () =>
        slack.calls.some(
          (c) => c.method === 'chat.postMessage' && c.args.thread_ts && String(c.args.text).startsWith('paged alice'),
        )
          ? true
          : undefined,
      );
      const before = await api(`/api/incidents/${id}`);
      expect(before.incident).toMatchObject({ status: 'firing' });
      const slackCalls = slack.calls.length;

      const requests = fc.sample(arbitraries(id), { seed: SEED, numRuns: REQUESTS });
      const answers: Array<RawAnswer | undefined> = new Array(requests.length);
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          for (let i = next++; i < requests.length; i = next++) {
            const { parts, halfClose } = serialize(requests[i]!);
            answers[i] = await rawRequest(port, parts, {
              halfClose,
              headOnly: requests[i]!.method === 'HEAD',
              timeoutMs: 15_000,
            });
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;

      const counts = new Map<string, number>();
      const problems: string[] = [];
      requests.forEach((r, i) => {
        const a = answers[i]!;
        const key = a.status === undefined ? `no answer (${a.error})` : String(a.status);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        // 2xx only where a request may succeed: health, readiness and metrics; reads with the token (the API and the
        // status page at /, which the target "*" also reaches); a signed Slack
        // payload or PagerDuty event (answered, then ignored: it names no incident of ours).
        const read = r.method === 'GET' || r.method === 'HEAD';
        const open =
          (OPEN.includes(r.route) && read) ||
          (r.credentials === 'api' && read && (r.route.startsWith('/api/') || r.route === '/' || r.target === '*')) ||
          (r.credentials === 'signed' && r.method === 'POST');
        if (a.status === undefined) {
          // Only a client that closed its side mid-body may go unanswered.
          if (r.framing !== 'truncated' || a.error === 'timed out')
            problems.push(`${describeRequest(i, r)}: ${a.error}`);
        } else if (a.status >= 500 && !(a.status === 503 && r.route === '/readyz')) {
          problems.push(`${describeRequest(i, r)}: ${a.text.slice(0, 200)}`);
        } else if (a.status < 400 && !open) {
          problems.push(`${describeRequest(i, r)}: ${a.status} for a request that needs credentials`);
        } else if (a.status < 200 || (a.status >= 300 && a.status < 400)) {
          problems.push(`${describeRequest(i, r)}: unexpected ${a.status}`);
        }
      });
      const table = [...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ');
      console.log(
        `request fuzz: ${REQUESTS} requests in ${seconds.toFixed(1)} s (seed ${SEED}); answers by status: ${table}`,
      );
      expect(problems.slice(0, 20)).toEqual([]);

      // Still alive and healthy; the incident exactly as it was; no request ended in a handler's failure.
      expect(sloe.child.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await api(`/api/incidents/${id}`)).toEqual(before);
      expect(sloe.lines.filter((l) => l.event === 'http-error')).toEqual([]);
      // Nothing reached Slack either (an action would update the incident's message).
      expect(slack.calls.slice(slackCalls)).toEqual([]);
    } finally {
      await slack.stop();
    }
  });
});
