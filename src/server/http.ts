/** The HTTP server of `sloe run`: a small router over node:http, so that channels can add their endpoints. */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../engine/log.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => unknown;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a request body, up to `limit` bytes. */
export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class HttpServer {
  private readonly routes: Route[] = [];
  /** Routes without parameters, by `METHOD path`: found without scanning. */
  private readonly exact = new Map<string, Handler>();
  private server: Server | undefined;

  constructor(private readonly log: Logger) {}

  /** Adds a route; `:name` segments become params. */
  route(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, parts: path.split('/').filter(Boolean), handler });
    if (!path.includes(':')) this.exact.set(`${method} ${path}`, handler);
    return this;
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
    const parts = pathname.split('/').filter(Boolean);
    let wrongMethod = false;
    for (const route of this.routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.parts.every((p, i) => {
        if (p.startsWith(':')) {
          params[p.slice(1)] = decodeURIComponent(parts[i]!);
          return true;
        }
        return p === parts[i];
      });
      if (!ok) continue;
      if (route.method !== method) {
        wrongMethod = true;
        continue;
      }
      return { route, params };
    }
    return wrongMethod ? 'method' : undefined;
  }

  async listen(port: number, host?: string): Promise<number> {
    this.server = createServer((req, res) => {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const pathname = q < 0 ? raw : raw.slice(0, q);
      const fail = (e: unknown) => {
        this.log.error({ event: 'http-error', path: pathname, error: e instanceof Error ? e.message : String(e) }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      };
      const run = (handler: Handler, params: Record<string, string>) => {
        try {
          const r = handler(req, res, params);
          if (r instanceof Promise) r.catch(fail);
        } catch (e) {
          fail(e);
        }
      };
      const exact = this.exact.get(`${req.method} ${pathname}`);
      if (exact) return run(exact, {});
      const found = this.match(req.method ?? 'GET', pathname);
      if (found === undefined) return sendJson(res, 404, { error: `no such endpoint: ${pathname}` });
      if (found === 'method') return sendJson(res, 405, { error: `${req.method} is not allowed on ${pathname}` });
      run(found.route.handler, found.params);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
