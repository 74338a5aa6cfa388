/**
 * A stand-in for PagerDuty over HTTPS: the Events API v2 (`POST /v2/enqueue`, incidents grouped by dedup key) and
 * the REST calls sloe makes (`GET /incidents?incident_key=`, `PUT /incidents/:id`), with answers that can be
 * scripted (500, 400, 429…); and a sender of signed v3 webhooks.
 */
import { createHmac } from 'node:crypto';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCa } from '../tls.js';
import { type HeldAnswer, type HoldMode, Holds } from './hold.js';

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload: { summary: string; severity: string; source: string; custom_details?: Record<string, unknown> };
  links?: Array<{ href: string; text?: string }>;
}

export class PagerDutyStandIn {
  /** Every request to the Events API, answered or not. */
  readonly requests: Array<{ status: number; event: PagerDutyEvent; at: number; remotePort?: number; held?: boolean }> =
    [];
  /** Answers withheld (see hold()). */
  readonly holds = new Holds<PagerDutyEvent>();
  readonly rest: Array<{
    method: string;
    path: string;
    body: unknown;
    headers: Record<string, string | string[] | undefined>;
  }> = [];
  /** PagerDuty incidents by dedup key, with their status. */
  readonly incidents = new Map<
    string,
    { id: string; status: 'triggered' | 'acknowledged' | 'resolved'; assignee?: string }
  >();
  private readonly script: number[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly ca: TestCa,
    readonly routingKey: string,
  ) {}

  get server_(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The next Events API requests answer these statuses, in order (then 202 again). */
  answer(...statuses: number[]): void {
    this.script.push(...statuses);
  }

  /**
   * Holds the next `times` Events API requests that `match`: taken (a trigger opens its incident) but not answered
   * (`mode: 'answer'`, the default: a client that dies or times out never learns it got through), or not even taken
   * until released (`'request'`: a dropped one was lost on the way). nextHeld() tells which connection sent it.
   */
  hold(match: (event: PagerDutyEvent) => boolean = () => true, times = 1, mode: HoldMode = 'answer'): void {
    this.holds.arm((_what, event) => match(event), times, mode);
  }

  /** The next held answer. */
  nextHeld(timeoutMs = 30_000): Promise<HeldAnswer> {
    return this.holds.next(timeoutMs);
  }

  /** The accepted events. */
  get events(): PagerDutyEvent[] {
    return this.requests.filter((r) => r.status === 202).map((r) => r.event);
  }

  async start(): Promise<void> {
    this.server = createServer({ key: this.ca.key, cert: this.ca.cert }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        let json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        const url = new URL(req.url ?? '/', 'https://localhost');
        if (req.method === 'POST' && url.pathname === '/v2/enqueue') {
          const event = JSON.parse(body) as PagerDutyEvent;
          const scripted = this.script.shift();
          // PagerDuty refuses events over 512 KB (and those with a wrong routing key) with 400.
          const status =
            scripted ?? (event.routing_key === this.routingKey && Buffer.byteLength(body) <= 512 * 1024 ? 202 : 400);
          const remotePort = req.socket.remotePort ?? 0;
          const held = status === 202 ? this.holds.take(event.event_action, event) : undefined;
          const hold = (release: () => void) =>
            this.holds.add({
              what: event.event_action,
              remotePort,
              at: Date.now(),
              mode: held!,
              release,
              drop: () => req.socket.destroy(),
            });
          if (held === 'request') return hold(() => this.enqueue(event, status, remotePort, json));
          if (held === 'answer') {
            const send = json;
            json = (s, value, headers) => hold(() => send(s, value, headers));
          }
          return this.enqueue(event, status, remotePort, json, held === 'answer');
        }
        this.rest.push({
          method: req.method ?? '',
          path: url.pathname + url.search,
          body: body ? JSON.parse(body) : undefined,
          headers: req.headers,
        });
        if (req.method === 'GET' && url.pathname === '/incidents') {
          const found = this.incidents.get(url.searchParams.get('incident_key') ?? '');
          return json(200, {
            incidents: found ? [{ id: found.id, type: 'incident', status: found.status }] : [],
            limit: 25,
            offset: 0,
            more: false,
          });
        }
        const put = /^\/incidents\/(\w+)$/.exec(url.pathname);
        if (req.method === 'PUT' && put) {
          const incident = [...this.incidents.values()].find((i) => i.id === put[1]);
          const assignee = (JSON.parse(body) as { incident: { assignments: Array<{ assignee: { id: string } }> } })
            .incident.assignments[0]?.assignee.id;
          if (incident && assignee) incident.assignee = assignee;
          return json(incident ? 200 : 404, { incident: { id: put[1], type: 'incident' } });
        }
        return json(404, { error: { message: 'Not Found' } });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Takes one Events API request (a trigger opens its incident, by dedup key) and answers it. */
  private enqueue(
    event: PagerDutyEvent,
    status: number,
    remotePort: number,
    json: (status: number, value: unknown, headers?: Record<string, string>) => void,
    held = false,
  ): void {
    this.requests.push({ status, event, at: Date.now(), remotePort, ...(held ? { held } : {}) });
    if (status === 202) {
      const key = event.dedup_key ?? `pd-${this.requests.length}`;
      const existing = this.incidents.get(key);
      if (event.event_action === 'trigger' && !existing)
        this.incidents.set(key, { id: `Q${this.incidents.size + 1}`, status: 'triggered' });
      if (event.event_action === 'acknowledge' && existing?.status === 'triggered') existing.status = 'acknowledged';
      if (event.event_action === 'resolve' && existing) existing.status = 'resolved';
      return json(202, { status: 'success', message: 'Event processed', dedup_key: key });
    }
    if (status === 400)
      return json(400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ['Invalid routing key'],
      });
    if (status === 429)
      return json(
        429,
        { status: 'throttled', message: 'Requests for this service are arriving too quickly' },
        { 'retry-after': '1' },
      );
    return json(status, { status: 'error', message: 'Internal server error' });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Sends a PagerDuty v3 webhook about the incident of `dedupKey`, signed with `secret` (or a wrong one). */
export async function pagerDutyWebhook(
  baseUrl: string,
  options: {
    type: 'incident.acknowledged' | 'incident.resolved';
    dedupKey: string;
    secret: string;
    forge?: boolean;
    agent?: string;
  },
) {
  const body = JSON.stringify({
    event: {
      id: '01ABCDEF',
      event_type: options.type,
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent: { id: 'PBOB456', type: 'user_reference', summary: options.agent ?? 'Bob Example' },
      data: { id: 'Q1', type: 'incident', incident_key: options.dedupKey, status: options.type.split('.')[1] },
    },
  });
  const sign = (s: string) => `v1=${createHmac('sha256', s).update(body).digest('hex')}`;
  // During a secret rotation PagerDuty sends several signatures; the real one is second here.
  const signature = options.forge ? sign('wrong-secret') : `${sign('old-secret')},${sign(options.secret)}`;
  const res = await fetch(`${baseUrl}/webhooks/pagerduty`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-pagerduty-signature': signature },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
