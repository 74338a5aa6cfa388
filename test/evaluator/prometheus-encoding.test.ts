/**
 * Range answers are large (a month at a one-minute step is 40,000 points per series): a Prometheus on this host is
 * asked for them uncompressed (compressing costs it more CPU than the query, and saves no network), any other for
 * gzip; either way the client reads the same series.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient, prometheusConfigFromEnv } from '../../src/evaluator/index.js';
import { loopback } from '../../src/evaluator/prometheus.js';

const BODY = JSON.stringify({
  status: 'success',
  data: {
    resultType: 'matrix',
    result: [
      {
        metric: { __name__: 'x', app: 'a' },
        values: [
          [1790553900, '9.106666666666667'],
          [1790553960, '0.0005'],
        ],
      },
    ],
  },
});

describe('range answers over HTTP', () => {
  const asked: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    asked.push(req.headers['accept-encoding']);
    req.resume();
    req.on('end', () => {
      // Answers as Prometheus does: compressed only when asked for gzip.
      const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      res.writeHead(200, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(gzip ? gzipSync(BODY) : BODY);
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    [`http://127.0.0.1:PORT`, 'identity'],
    [`http://localhost:PORT`, 'identity'],
    // Not loopback by its name (on Linux, connecting to 0.0.0.0 reaches this host): treated as another host.
    [`http://0.0.0.0:PORT`, 'gzip'],
  ])('asks %s for a %s answer and reads it', async (url, encoding) => {
    asked.length = 0;
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: url.replace('PORT', String(port)) });
    const series = await client.range('x', 1790553900_000, 1790553960_000, 60_000);
    expect(asked).toEqual([encoding]);
    expect(series.map((s) => ({ labels: s.labels, times: [...s.times], values: [...s.values] }))).toEqual([
      { labels: { app: 'a' }, times: [1790553900_000, 1790553960_000], values: [9.106666666666667, 0.0005] },
    ]);
  });

  it('tells this host from others', () => {
    for (const url of ['http://localhost:9090', 'http://127.0.0.1:9090', 'http://127.1.2.3', 'https://[::1]:9090/'])
      expect(loopback(url), url).toBe(true);
    for (const url of ['http://prometheus:9090', 'https://127.example.com', 'http://10.0.0.1:9090', 'not a url'])
      expect(loopback(url), url).toBe(false);
  });
});
