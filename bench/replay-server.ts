/**
 * A replay server for the scale-out benchmark (bench/scaleout.ts): it speaks the part of the Prometheus HTTP API
 * `sloe run` uses — `/api/v1/query` and `/api/v1/query_range`, GET or POST with a form body — and answers from
 * precomputed data instead of a TSDB, so that 100,000 SLOs can be evaluated on one machine without Prometheus being
 * what is measured. It is not Prometheus: it reads just enough of each query to find the series it asks for.
 *
 * The data: service `app="app-<a>"` receives (300 + 7a mod 50) requests a minute, 0.04 % of them errors, at every
 * moment; `sum(rate(bench_requests_total{app="app-<a>"}[…]))` is that rate per second, and with `status="error"` the
 * errors' rate. A merged query of the engine (`label_replace((q0), "sloe_query", "0", "", "") or …`, see
 * src/evaluator/batching.ts) is answered part by part, each series carrying its `sloe_query` label; `vector(1)` (the
 * readiness check) is answered 1. Anything else is answered with no series and counted as unmatched, and any other
 * path with 404 and counted, both shown by `GET /stats` together with the server's own CPU seconds.
 *
 * Usage: tsx bench/replay-server.ts PORT (prints `listening <port>` once it is).
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';

const BATCH_PART = /label_replace\(\((.*?)\), "sloe_query", "(\d+)", "", ""\)/g;
const APP = /app="app-(\d+)"/;

/** Requests a second of app `a`, and their errors. */
function replayRates(app: number): { total: number; errors: number } {
  const total = (300 + ((app * 7) % 50)) / 60;
  return { total, errors: total * 0.0004 };
}

/** The value a single (unmerged) query has at every moment; undefined for a query this server does not know. */
function replayedValue(query: string): string | undefined {
  const app = APP.exec(query);
  if (app) {
    const rates = replayRates(Number(app[1]));
    return String(query.includes('status="error"') ? rates.errors : rates.total);
  }
  return query.trim() === 'vector(1)' ? '1' : undefined;
}

interface Part {
  labels: string;
  value: string | undefined;
}

/** The parts of a query: those of a merged query with their `sloe_query` label, or the query itself. */
function partsOf(query: string): Part[] {
  const parts: Part[] = [];
  for (const m of query.matchAll(BATCH_PART))
    parts.push({ labels: `{"sloe_query":"${m[2]}"}`, value: replayedValue(m[1]!) });
  return parts.length > 0 ? parts : [{ labels: '{}', value: replayedValue(query) }];
}

/** Unix seconds (a number, or an RFC 3339 time) as ms. */
function toMs(text: string | null): number {
  if (text === null) return NaN;
  const n = Number(text);
  return Number.isFinite(n) ? Math.round(n * 1000) : Date.parse(text);
}

/** `[t,"` of each step of a range, kept for the ranges asked for lately (a cycle's shards ask the same ones). */
const grids = new Map<string, string[]>();
/** A series' `values` text by range and value: the SLOs of one service read the same series. */
const series = new Map<string, string>();
const CACHE_ENTRIES = 4096;

function valuesText(startMs: number, endMs: number, stepMs: number, value: string): string {
  const key = `${startMs}|${endMs}|${stepMs}|${value}`;
  let text = series.get(key);
  if (text !== undefined) return text;
  const gridKey = `${startMs}|${endMs}|${stepMs}`;
  let grid = grids.get(gridKey);
  if (!grid) {
    grid = [];
    for (let t = startMs; t <= endMs; t += stepMs) grid.push(`[${t / 1000},"`);
    if (grids.size >= 64) grids.clear();
    grids.set(gridKey, grid);
  }
  const tail = `${value}"]`;
  text = grid.map((head) => head + tail).join(',');
  // Long series (a 30-day budget: 8,640 points) are built each time: kept, they would hold hundreds of MB.
  if (grid.length > 1000) return text;
  if (series.size >= CACHE_ENTRIES) series.clear();
  series.set(key, text);
  return text;
}

const stats = {
  requests: {} as Record<string, number>,
  queries: 0,
  parts: 0,
  unmatched: 0,
  unknownPaths: 0,
  unmatchedExamples: [] as string[],
};

function unmatched(query: string): void {
  stats.unmatched++;
  if (stats.unmatchedExamples.length < 5) {
    stats.unmatchedExamples.push(query.slice(0, 300));
    process.stderr.write(`replay: no data for query: ${query.slice(0, 300)}\n`);
  }
}

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function handle(path: string, params: URLSearchParams, res: ServerResponse): void {
  stats.requests[path] = (stats.requests[path] ?? 0) + 1;
  if (path === '/stats') {
    const cpu = process.cpuUsage();
    answer(res, 200, JSON.stringify({ ...stats, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
    return;
  }
  const query = params.get('query');
  if ((path !== '/api/v1/query' && path !== '/api/v1/query_range') || query === null) {
    stats.unknownPaths++;
    process.stderr.write(`replay: not replayed: ${path}\n`);
    answer(res, 404, JSON.stringify({ status: 'error', errorType: 'not_found', error: `not replayed: ${path}` }));
    return;
  }
  stats.queries++;
  const parts = partsOf(query);
  stats.parts += parts.length;
  const known = parts.filter((p) => p.value !== undefined);
  if (known.length < parts.length) unmatched(query);
  if (path === '/api/v1/query') {
    const at = toMs(params.get('time'));
    const t = (Number.isFinite(at) ? at : Date.now()) / 1000;
    const result = known.map((p) => `{"metric":${p.labels},"value":[${t},"${p.value}"]}`).join(',');
    answer(res, 200, `{"status":"success","data":{"resultType":"vector","result":[${result}]}}`);
    return;
  }
  const start = toMs(params.get('start'));
  const end = toMs(params.get('end'));
  const step = toMs(params.get('step'));
  if (!(Number.isFinite(start) && Number.isFinite(end) && step > 0 && end >= start)) {
    answer(res, 400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'bad range' }));
    return;
  }
  // The fixed shape src/evaluator/range-body.ts reads directly, as Prometheus writes it.
  const result = known.map((p) => `{"metric":${p.labels},"values":[${valuesText(start, end, step, p.value!)}]}`);
  answer(res, 200, `{"status":"success","data":{"resultType":"matrix","result":[${result.join(',')}]}}`);
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://replay');
  if (req.method !== 'POST') {
    handle(url.pathname, url.searchParams, res);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v);
    handle(url.pathname, params, res);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 0);
  const server = createServer({ keepAliveTimeout: 60_000 }, serve);
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
