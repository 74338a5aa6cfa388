/**
 * A stand-in for a heartbeat monitor (healthchecks.io, Cronitor, a PagerDuty heartbeat): records each ping, and can
 * answer with an error status or hold requests without answering.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Ping {
  at: number;
  method: string;
  /** Path and query, as requested. */
  url: string;
  authorization?: string;
}

export class HeartbeatStandIn {
  readonly pings: Ping[] = [];
  /** 200 and the like answer at once; 'hang' never answers. */
  answer: number | 'hang' = 200;
  /** The most requests that were open at the same time. */
  maxOpen = 0;
  private open = new Set<ServerResponse>();
  private server: Server | undefined;
  port = 0;

  url(path = '/ping/0f3c'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.pings.push({
        at: Date.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      this.open.add(res);
      this.maxOpen = Math.max(this.maxOpen, this.open.size);
      res.on('close', () => this.open.delete(res));
      if (this.answer === 'hang') return;
      res.writeHead(this.answer, { 'content-type': 'text/plain' });
      res.end(this.answer < 300 ? 'OK' : 'error');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
