/** A small metrics endpoint for local runs (demo, tests): gauges and counters set by hand, scraped by Prometheus. */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';

export class Exporter {
  readonly registry = new Registry();
  private readonly gauges = new Map<string, Gauge>();
  private readonly counters = new Map<string, Counter>();
  private server: Server | undefined;
  port = 0;

  gauge(name: string, labelNames: string[] = []): Gauge {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new Gauge({ name, help: name, labelNames, registers: [this.registry] })));
    return g;
  }

  counter(name: string, labelNames: string[] = []): Counter {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new Counter({ name, help: name, labelNames, registers: [this.registry] })));
    return c;
  }

  /** Serves /metrics on a free port of 127.0.0.1; returns `host:port` for Prometheus to scrape. */
  async start(): Promise<string> {
    this.server = createServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
