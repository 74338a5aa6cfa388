import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { queueSlo, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';

const ctx = useStack();

/** A GET whose path is sent exactly as given (fetch would normalise it). */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sloe run: a request cannot stop the engine', () => {
  it('a path with broken percent-encoding gets 400 and the engine keeps answering', async () => {
    const port = await freePort();
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const sloe = spawnSloe(
      ['run', paths[0]!],
      {
        REDIS_URL: ctx.stack.redis.url,
        PROMETHEUS_URL: ctx.stack.prometheus.url,
        SLOE_REDIS_PREFIX: `crash${Date.now()}`,
        SLOE_API_PUBLIC_READ: '1',
      },
      port,
    );
    ctx.processes.push(sloe);
    await sloe.waitFor('ready', (l) => l.event === 'ready');
    const status = await rawGet(port, '/api/incidents/%E0%A4%A').catch((e: Error) => `no answer: ${e.message}`);
    expect(status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(sloe.child.exitCode).toBeNull();
  });
});
