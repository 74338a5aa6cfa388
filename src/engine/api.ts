/**
 * The engine's HTTP API: health, readiness, metrics, and `/api/*` (incidents, their audit trail, and acknowledging,
 * resolving or snoozing them). Every `/api/*` route needs `Authorization: Bearer $SLOE_API_TOKEN`, compared in
 * constant time; `SLOE_API_PUBLIC_READ=1` opens the GET routes to anyone. Lists are paged with an opaque cursor.
 * Nothing that leaves here carries a credential of a URL (redactUrls).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import { formatDuration, parseDuration } from '../rules/duration.js';
import { sameSecret } from '../util/secret.js';
import { HttpError, type HttpServer, readJson, sendJson } from '../server/http.js';
import { withTimeout } from '../util/async.js';
import { redactUrls } from '../util/redact.js';
import type { IncidentAction, IncidentActions } from '../incident/ports.js';
import { type AuditEntry, DEFAULT_SNOOZE_MS, type Incident, MAX_SNOOZE_MS } from '../incident/model.js';
import type { EngineMetrics } from '../observability/metrics.js';
import type { Config } from '../rules/model.js';
import type { Silence, SilenceRequest } from '../rules/silence.js';
import type { RedisIncidentStore } from './store.js';

/** What the API serves from: the engine's actions, store, metrics, clock and configuration. */
export interface ApiEngine extends IncidentActions {
  readonly metrics: EngineMetrics;
  readonly store: Pick<RedisIncidentStore, 'page' | 'get' | 'audit'>;
  readonly now: () => number;
  config(): Config;
  schedulersHealthy(): Promise<string>;
  silence(request: SilenceRequest, via: string): Promise<{ id: string; silence: Silence } | Error>;
  listSilences(): Promise<Array<{ id: string; origin: 'spec' | 'runtime'; silence: Silence }>>;
}

/** What the API needs of the engine beyond its public face: its environment and what readiness probes. */
export interface ApiInternals {
  env: NodeJS.ProcessEnv;
  pingRedis(): Promise<unknown>;
  prometheus: PrometheusPort;
  workersStarted(): boolean;
}

/** Most incidents one list answer carries; `limit` is clamped to 1…MAX_LIMIT. */
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
/** The longest snooze the API grants. */

/** Adds the engine's routes to its HTTP server. */
export function serveApi(http: HttpServer, engine: ApiEngine, internals: ApiInternals): void {
  const { env } = internals;
  http.route('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  http.route('GET', '/readyz', async (_req, res) => {
    const checks = await readiness(engine, internals);
    sendJson(res, Object.values(checks).every((c) => c === 'ok') ? 200 : 503, checks);
  });
  http.route('GET', '/metrics', async (_req, res) => {
    const chunks = await engine.metrics.registry.chunks();
    res.writeHead(200, { 'content-type': engine.metrics.registry.contentType });
    // Chunk by chunk: a URL ends at a newline, and chunks end where a metric's lines do.
    res.cork();
    for (const chunk of chunks)
      if (chunk.length > 0) res.write(chunk.includes('://') ? redactUrls(chunk.toString()) : chunk);
    res.end();
  });

  const read =
    (handler: (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      authorize(req, env, 'read');
      return handler(req, res, params);
    };
  http.route(
    'GET',
    '/api/incidents',
    read(async (req, res) => {
      const query = listQuery(req.url ?? '/');
      const page = await withTimeout(5000, () => engine.store.page(query));
      const last = page.incidents.at(-1);
      sendJson(res, 200, {
        incidents: page.incidents.map(view),
        ...(page.more && last ? { next: encodeCursor(last) } : {}),
      });
    }),
  );
  http.route(
    'GET',
    '/api/incidents/:id',
    read(async (_req, res, { id }) => {
      const incident = await withTimeout(5000, () => engine.store.get(id!));
      if (!incident) return sendJson(res, 404, { error: `no incident ${id}` });
      sendJson(res, 200, {
        incident: view(incident),
        audit: (await withTimeout(5000, () => engine.store.audit(id!))).map(auditView),
      });
    }),
  );

  const action =
    <S extends z.ZodType<{ by?: string | undefined }>>(
      schema: S,
      run: (id: string, by: string, body: z.infer<S>) => Promise<IncidentAction>,
    ) =>
    async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      authorize(req, env, 'write');
      const body = parseBody(schema, await readJson(req));
      const result = await run(params.id!, body.by ?? 'api', body);
      sendJson(res, result === 'missing' ? 404 : 200, { result });
    };
  const acknowledge = action(ActionBody, (id, by) => engine.acknowledge(id, by, 'api'));
  // SPEC.md names the route `/ack`; `/acknowledge` is what sloe answered first.
  http.route('POST', '/api/incidents/:id/ack', acknowledge);
  http.route('POST', '/api/incidents/:id/acknowledge', acknowledge);
  http.route(
    'POST',
    '/api/incidents/:id/resolve',
    action(ActionBody, (id, by) => engine.resolve(id, by, 'api')),
  );
  http.route(
    'POST',
    '/api/incidents/:id/snooze',
    action(SnoozeBody, (id, by, body) => engine.snooze(id, snoozeMs(body), by, 'api')),
  );

  http.route(
    'GET',
    '/api/silences',
    read(async (_req, res) => {
      const list = await withTimeout(5000, () => engine.listSilences());
      sendJson(res, 200, {
        silences: list.map(({ id, origin, silence }) => ({ id, origin, ...silenceView(silence) })),
      });
    }),
  );
  http.route('POST', '/api/silences', async (req, res) => {
    authorize(req, env, 'write');
    const body = parseBody(SilenceBody, await readJson(req));
    const now = engine.now();
    const time = (name: string, v: string) => {
      const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
      if (Number.isNaN(ms)) throw new HttpError(400, `"${name}" must be an RFC 3339 time such as 2026-12-01T04:00:00Z`);
      return ms;
    };
    if ((body.endsAt === undefined) === (body.duration === undefined))
      throw new HttpError(400, 'give either "endsAt" or "duration" (at most 7d): a silence must end');
    const startsAt = body.startsAt !== undefined ? time('startsAt', body.startsAt) : now;
    let endsAt: number;
    if (body.duration !== undefined) {
      const ms = parseDuration(body.duration);
      if (ms === undefined || ms <= 0)
        throw new HttpError(400, `"duration" must be a duration such as 2h, not ${JSON.stringify(body.duration)}`);
      endsAt = startsAt + ms;
    } else endsAt = time('endsAt', body.endsAt!);
    const made = await engine.silence(
      { matchers: body.matchers, reason: body.reason, by: body.by, startsAt, endsAt },
      'api',
    );
    if (made instanceof Error) throw new HttpError(400, made.message);
    sendJson(res, 201, { silence: { id: made.id, origin: 'runtime', ...silenceView(made.silence) } });
  });
}

const SilenceBody = z.strictObject({
  matchers: z.array(z.string().max(1024)).min(1, 'list at least one matcher, e.g. "service = checkout"').max(32),
  reason: z.string().trim().min(1, 'a silence needs a reason').max(4096),
  by: z.string().trim().min(1, 'say who silences').max(200),
  startsAt: z.string().max(64).optional(),
  endsAt: z.string().max(64).optional(),
  duration: z.string().max(32).optional(),
});

/** A silence as the API shows it. */
function silenceView(s: Silence) {
  const w = s.window;
  return {
    name: s.name,
    owner: s.owner,
    reason: s.reason,
    matchers: s.matchers.map((m) => m.text),
    ...(w.kind === 'fixed'
      ? { startsAt: iso(w.startsAt), endsAt: iso(w.endsAt) }
      : { every: 'weekly', days: w.days, from: clock(w.fromMin), to: clock(w.toMin), timezone: w.timezone }),
  };
}

const clock = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

/**
 * Lets a request through or throws: reads are open with SLOE_API_PUBLIC_READ=1; everything else needs the bearer
 * token, and without SLOE_API_TOKEN nothing is allowed (403 saying how to configure it).
 */
export function authorize(req: IncomingMessage, env: NodeJS.ProcessEnv, access: 'read' | 'write'): void {
  if (access === 'read' && env.SLOE_API_PUBLIC_READ === '1') return;
  const token = env.SLOE_API_TOKEN;
  if (!token) {
    throw new HttpError(
      403,
      access === 'read'
        ? 'the API is closed: set SLOE_API_TOKEN and send "Authorization: Bearer <token>", or set SLOE_API_PUBLIC_READ=1 to allow reads without a token'
        : 'changing incidents over HTTP is off: set SLOE_API_TOKEN and send "Authorization: Bearer <token>"',
    );
  }
  const header = req.headers.authorization ?? '';
  const given = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (given === undefined || !sameSecret(given, token)) {
    throw new HttpError(
      401,
      given === undefined ? 'missing bearer token (Authorization: Bearer <SLOE_API_TOKEN>)' : 'wrong bearer token',
      { 'www-authenticate': 'Bearer realm="sloe"' },
    );
  }
}

const By = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const ActionBody = z
  .strictObject({ by: By.optional() })
  .optional()
  .transform((b) => b ?? {});
const SnoozeBody = z
  .strictObject({
    by: By.optional(),
    duration: z.string().max(32).optional(),
    minutes: z.number().optional(),
  })
  .optional()
  .transform((b) => b ?? {});

/** How long a snooze body asks for: `duration` ("30m", "2h") or `minutes`; at most 24h. */
function snoozeMs(body: { duration?: string | undefined; minutes?: number | undefined }): number {
  if (body.duration !== undefined && body.minutes !== undefined)
    throw new HttpError(400, 'give either "duration" or "minutes", not both');
  const ms =
    body.duration !== undefined
      ? parseDuration(body.duration)
      : body.minutes !== undefined
        ? body.minutes * 60_000
        : DEFAULT_SNOOZE_MS;
  if (ms === undefined || !Number.isFinite(ms))
    throw new HttpError(400, `"duration" must be a duration such as 30m or 2h, not ${JSON.stringify(body.duration)}`);
  if (ms <= 0) throw new HttpError(400, 'a snooze must last longer than 0');
  if (ms > MAX_SNOOZE_MS)
    throw new HttpError(
      400,
      `a snooze lasts at most ${formatDuration(MAX_SNOOZE_MS)} (asked for ${formatDuration(ms)})`,
    );
  return ms;
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  throw new HttpError(400, `body: ${problems.join('; ')}`);
}

/** The query of `GET /api/incidents`: `status` (open, all), `limit` (clamped to 1…1000), `cursor` (a `next`). */
function listQuery(url: string): { open: boolean; limit: number; after?: { firedAt: number; id: string } } {
  const params = new URL(url, 'http://localhost').searchParams;
  const status = params.get('status') ?? 'all';
  if (status !== 'open' && status !== 'all')
    throw new HttpError(400, `"status" must be open or all, not ${JSON.stringify(status.slice(0, 40))}`);
  const rawLimit = params.get('limit');
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== null) {
    const n = Number(rawLimit);
    if (rawLimit.trim() === '' || !Number.isFinite(n))
      throw new HttpError(
        400,
        `"limit" must be a number from 1 to ${MAX_LIMIT}, not ${JSON.stringify(rawLimit.slice(0, 40))}`,
      );
    limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(n)));
  }
  const cursor = params.get('cursor');
  return { open: status === 'open', limit, ...(cursor !== null ? { after: decodeCursor(cursor) } : {}) };
}

/** The cursor after an incident: opaque to clients (base64url of its firing time and id). */
function encodeCursor(incident: Incident): string {
  return Buffer.from(JSON.stringify([incident.firedAt, incident.id])).toString('base64url');
}

function decodeCursor(cursor: string): { firedAt: number; id: string } {
  try {
    const [firedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof firedAt === 'number' && Number.isFinite(firedAt) && typeof id === 'string' && id.length <= 64)
      return { firedAt, id };
  } catch {
    // falls through to the error
  }
  throw new HttpError(400, '"cursor" is not one this API gave out (use the "next" of the previous page)');
}

/** What readiness checks: Redis and Prometheus answer, SLOs are loaded, the workers run. Messages are redacted. */
async function readiness(engine: ApiEngine, internals: ApiInternals): Promise<Record<string, string>> {
  const unreachable = (e: Error) => `unreachable: ${redactUrls(e.message)}`;
  const [redis, prometheus, schedulers] = await Promise.all([
    withTimeout(1000, () => internals.pingRedis()).then(() => 'ok', unreachable),
    withTimeout(3000, () => internals.prometheus.instant('vector(1)', engine.now())).then(() => 'ok', unreachable),
    withTimeout(2000, () => engine.schedulersHealthy()).catch((e: Error) => `cannot check: ${redactUrls(e.message)}`),
  ]);
  return {
    redis,
    prometheus,
    config: engine.config().slos.length > 0 ? 'ok' : 'no SLOs loaded',
    workers: internals.workersStarted() ? 'ok' : 'waiting for Redis',
    schedulers,
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** An incident as the API shows it. */
export function view(i: Incident) {
  const { policy, refs, ...rest } = i;
  return {
    ...rest,
    message: redactUrls(i.message),
    firedAt: iso(i.firedAt),
    escalatedAt: iso(i.escalatedAt),
    acknowledgedAt: iso(i.acknowledgedAt),
    resolvedAt: iso(i.resolvedAt),
    snoozedUntil: iso(i.snoozedUntil),
    escalation: policy.name,
    refs,
  };
}

/** An audit entry as the API shows it. */
export function auditView(a: AuditEntry) {
  return { ...a, detail: redactUrls(a.detail), at: iso(a.at) };
}
