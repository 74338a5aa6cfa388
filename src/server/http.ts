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
  private server: Server | undefined;

  constructor(private readonly log: Logger) {}

  /** Adds a route; `:name` segments become params. */
  route(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, parts: path.split('/').filter(Boolean), handler });
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
      const url = new URL(req.url ?? '/', 'http://localhost');
      const found = this.match(req.method ?? 'GET', url.pathname);
      if (found === undefined) return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
      if (found === 'method') return sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
      Promise.resolve()
        .then(() => found.route.handler(req, res, found.params))
        .catch((e: unknown) => {
          this.log.error({ event: 'http-error', path: url.pathname, error: e instanceof Error ? e.message : String(e) }, 'request failed');
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.end();
        });
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
