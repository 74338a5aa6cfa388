import { describe, expect, it } from 'vitest';
import { sameSecret } from '../../src/util/secret.js';
import type { Engine } from '../../src/engine/engine.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';

const ctx = useStack();
const TOKEN = 'api-token-0f9e8d7c';

async function engineWith(env: NodeJS.ProcessEnv, slo = queueSlo()) {
  const started = await startEngine(ctx.stack, [await writeSlos(ctx.stack.dir, slo)], { env });
  ctx.engines.push(started.engine);
  return started.engine;
}

async function call(engine: Engine, path: string, init: RequestInit & { token?: string } = {}) {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(`http://127.0.0.1:${engine.port}${path}`, { ...rest, headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const post = (engine: Engine, path: string, body: string, token?: string) =>
  call(engine, path, { method: 'POST', body, ...(token !== undefined ? { token } : {}) });

async function oneIncident(engine: Engine) {
  ctx.stack.exporter.gauge('demo_queue_depth').set(350);
  return eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
}

describe('the incident API is locked down', () => {
  it('with SLOE_API_TOKEN: every /api route needs the bearer token; a wrong or missing one is 401', async () => {
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN });
    const incident = await oneIncident(engine);
    for (const path of ['/api/incidents', `/api/incidents/${incident.id}`, '/api/incidents?status=open']) {
      const missing = await call(engine, path);
      expect(missing.status, path).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await call(engine, path, { token: 'wrong' })).status, path).toBe(401);
      expect((await call(engine, path, { token: `${TOKEN}x` })).status, path).toBe(401);
      expect((await call(engine, path, { token: TOKEN })).status, path).toBe(200);
    }
    expect(JSON.stringify((await call(engine, '/api/incidents')).body)).not.toContain(incident.id);
    for (const action of ['ack', 'acknowledge', 'resolve', 'snooze']) {
      expect((await post(engine, `/api/incidents/${incident.id}/${action}`, '{}')).status, action).toBe(401);
      expect((await post(engine, `/api/incidents/${incident.id}/${action}`, '{}', 'wrong')).status, action).toBe(401);
    }
    expect((await engine.store.get(incident.id))!.status).toBe('firing');
    // Health, readiness and metrics stay open (probes and scrapers).
    expect((await fetch(`http://127.0.0.1:${engine.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${engine.port}/metrics`)).status).toBe(200);
  });

  it('without SLOE_API_TOKEN: reads and changes are refused with 403 saying how to configure it', async () => {
    const engine = await engineWith({});
    const incident = await oneIncident(engine);
    const read = await call(engine, '/api/incidents', { token: 'anything' });
    expect(read.status).toBe(403);
    expect(read.body.error).toMatch(/SLOE_API_TOKEN.*SLOE_API_PUBLIC_READ=1/);
    expect((await call(engine, `/api/incidents/${incident.id}`)).status).toBe(403);
    const change = await post(engine, `/api/incidents/${incident.id}/ack`, '{}', 'anything');
    expect(change.status).toBe(403);
    expect(change.body.error).toMatch(/SLOE_API_TOKEN/);
  });

  it('SLOE_API_PUBLIC_READ=1 opens GET reads only', async () => {
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN, SLOE_API_PUBLIC_READ: '1' });
    const incident = await oneIncident(engine);
    expect((await call(engine, '/api/incidents')).status).toBe(200);
    expect((await call(engine, `/api/incidents/${incident.id}`)).body.incident).toMatchObject({ id: incident.id });
    expect((await post(engine, `/api/incidents/${incident.id}/ack`, '{}')).status).toBe(401);
    expect((await post(engine, `/api/incidents/${incident.id}/ack`, '{"by":"alice"}', TOKEN)).body).toEqual({
      result: 'done',
    });
  });

  it('compares tokens by digest: equal only when equal, whatever the lengths', () => {
    expect(sameSecret(TOKEN, TOKEN)).toBe(true);
    expect(sameSecret('', TOKEN)).toBe(false);
    expect(sameSecret(TOKEN.slice(0, -1), TOKEN)).toBe(false);
    expect(sameSecret(`${TOKEN}${TOKEN}`, TOKEN)).toBe(false);
  });
});

describe('the incident API: actions', () => {
  it('POST /ack (as SPEC.md names it) and /acknowledge both acknowledge', async () => {
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN });
    const incident = await oneIncident(engine);
    expect(await post(engine, `/api/incidents/${incident.id}/ack`, '{"by":"alice"}', TOKEN)).toMatchObject({
      status: 200,
      body: { result: 'done' },
    });
    expect(await post(engine, `/api/incidents/${incident.id}/acknowledge`, '{"by":"alice"}', TOKEN)).toMatchObject({
      status: 200,
      body: { result: 'already' },
    });
    expect(await engine.store.get(incident.id)).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'alice' });
    expect((await post(engine, '/api/incidents/0000000000000000/ack', '', TOKEN)).status).toBe(404);
  });

  it('snooze takes a bounded duration: at most 24h, 400 beyond saying the limit', async () => {
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN });
    const incident = await oneIncident(engine);
    const tooLong = await post(engine, `/api/incidents/${incident.id}/snooze`, '{"duration":"25h"}', TOKEN);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatch(/at most 1d/);
    expect((await post(engine, `/api/incidents/${incident.id}/snooze`, '{"minutes":1441}', TOKEN)).status).toBe(400);
    expect((await post(engine, `/api/incidents/${incident.id}/snooze`, '{"minutes":-5}', TOKEN)).status).toBe(400);
    expect((await post(engine, `/api/incidents/${incident.id}/snooze`, '{"duration":"soon"}', TOKEN)).status).toBe(400);
    expect((await engine.store.get(incident.id))!.snoozedUntil).toBeUndefined();
    const before = Date.now();
    expect(
      await post(engine, `/api/incidents/${incident.id}/snooze`, '{"duration":"30m","by":"alice"}', TOKEN),
    ).toMatchObject({ status: 200, body: { result: 'done' } });
    const until = (await engine.store.get(incident.id))!.snoozedUntil!;
    expect(until - before).toBeGreaterThanOrEqual(30 * 60_000 - 100);
    expect(until - before).toBeLessThan(30 * 60_000 + 5000);
  });

  it('an action body of the wrong shape is 400, not 500, on every action route', async () => {
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN });
    const incident = await oneIncident(engine);
    const bodies = {
      'malformed JSON': '{"by":',
      'a form body': 'payload=%7B%7D&by=alice',
      'an array': '[1,2]',
      null: 'null',
      'a number for by': '{"by":5}',
      'an unknown field': '{"by":"alice","force":true}',
      'an empty by': '{"by":"  "}',
    };
    for (const [what, body] of Object.entries(bodies)) {
      for (const action of ['ack', 'resolve', 'snooze']) {
        const answer = await post(engine, `/api/incidents/${incident.id}/${action}`, body, TOKEN);
        expect(answer.status, `${what} to ${action}: ${JSON.stringify(answer.body)}`).toBe(400);
      }
    }
    expect((await engine.store.get(incident.id))!.status).toBe('firing');
  });
});

describe('the incident API: paging', () => {
  it('limit is clamped to 1–1000 and the list is paged with an opaque cursor', async () => {
    const lanes = ctx.stack.exporter.gauge('demo_api_lane_depth', ['lane']);
    const slo = queueSlo().replace('query: max(demo_queue_depth)', 'query: max by (lane) (demo_api_lane_depth)');
    const engine = await engineWith({ SLOE_API_TOKEN: TOKEN }, slo);
    for (let lane = 0; lane < 25; lane++) lanes.set({ lane: String(lane) }, 350);
    try {
      await eventually(
        '25 incidents',
        async () => (await engine.store.list({ open: true, limit: 1000 })).length === 25,
      );
      const all = (await call(engine, '/api/incidents?limit=1000', { token: TOKEN })).body;
      const ids = (all.incidents as Array<{ id: string }>).map((i) => i.id);
      expect(ids).toHaveLength(25);
      expect(all.next).toBeUndefined();

      const negative = (await call(engine, '/api/incidents?limit=-1', { token: TOKEN })).body;
      expect(negative.incidents).toHaveLength(1);
      expect(typeof negative.next).toBe('string');
      expect(
        ((await call(engine, '/api/incidents?limit=0', { token: TOKEN })).body.incidents as unknown[]).length,
      ).toBe(1);
      expect(
        ((await call(engine, '/api/incidents?limit=100000', { token: TOKEN })).body.incidents as unknown[]).length,
      ).toBe(25);
      expect((await call(engine, '/api/incidents?limit=lots', { token: TOKEN })).status).toBe(400);
      expect((await call(engine, '/api/incidents?cursor=not-a-cursor', { token: TOKEN })).status).toBe(400);
      expect((await call(engine, '/api/incidents?status=everything', { token: TOKEN })).status).toBe(400);

      for (const status of ['all', 'open']) {
        const paged: string[] = [];
        let next: string | undefined;
        let pages = 0;
        do {
          const page = (
            await call(
              engine,
              `/api/incidents?status=${status}&limit=7${next ? `&cursor=${encodeURIComponent(next)}` : ''}`,
              { token: TOKEN },
            )
          ).body;
          paged.push(...(page.incidents as Array<{ id: string }>).map((i) => i.id));
          next = page.next as string | undefined;
          pages++;
        } while (next && pages < 10);
        expect(pages, status).toBe(4);
        expect(paged, status).toEqual(ids);
      }
    } finally {
      lanes.reset();
    }
  });
});
