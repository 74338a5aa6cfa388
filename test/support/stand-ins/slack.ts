/**
 * A stand-in for the Slack Web API (HTTP, form-encoded like the real one, answering like Slack) and a client of
 * sloe's interactivity endpoint that signs its requests as Slack does.
 */
import { createHmac } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HeldAnswer, type HoldMode, Holds } from './hold.js';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** The client's port: which process made the call. */
  remotePort?: number;
}

/** A user group of the workspace, as `usergroups.list` shows it. */
export interface StandInUserGroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
}

/** Scopes the stand-in's bot token has unless told otherwise (`withoutScope`). */
const BOT_SCOPES = ['chat:write', 'chat:write.public', 'im:write', 'usergroups:read'];
/** The scope each method needs, where the stand-in checks one. */
const NEEDED_SCOPE: Record<string, string> = {
  'usergroups.list': 'usergroups:read',
  'usergroups.users.list': 'usergroups:read',
};

export class SlackStandIn {
  readonly calls: SlackCall[] = [];
  private server: Server | undefined;
  private messages = 0;
  private readonly limits = new Map<string, { times: number; retryAfter: number }>();
  private readonly platformErrors = new Map<string, string[]>();
  private readonly groups: StandInUserGroup[] = [];
  private scopes = new Set(BOT_SCOPES);
  port = 0;

  constructor(readonly token: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** A response_url of an interaction, served by the stand-in (Slack's are https://hooks.slack.com/actions/…). */
  get responseUrl(): string {
    return `http://127.0.0.1:${this.port}/actions/T1/1/abc`;
  }

  /** The next `times` calls of `method` answer 429 with Retry-After. */
  rateLimit(method: string, times: number, retryAfterSeconds: number): void {
    this.limits.set(method, { times, retryAfter: retryAfterSeconds });
  }

  private readonly failures = new Map<string, number[]>();

  /** The next calls of `method` answer these HTTP statuses (5xx with an error page, 4xx with Slack's JSON). */
  fail(method: string, ...statuses: number[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...statuses]);
  }

  /** The next calls of `method` answer HTTP 200 with `{ ok: false, error }`, as Slack reports a platform error. */
  platformError(method: string, ...errors: string[]): void {
    this.platformErrors.set(method, [...(this.platformErrors.get(method) ?? []), ...errors]);
  }

  /** Adds a user group (`handle` without the @) with these members; returns its id (`S…`). */
  userGroup(handle: string, users: string[]): string {
    const id = `S${String(this.groups.length + 1).padStart(8, '0')}`;
    this.groups.push({ id, handle, name: handle, users: [...users] });
    return id;
  }

  /** Takes a scope away from the bot token: the methods needing it answer `missing_scope`. */
  withoutScope(scope: string): void {
    this.scopes.delete(scope);
  }

  /** Forgets user groups, scopes taken away and queued errors. */
  reset(): void {
    this.calls.length = 0;
    this.groups.length = 0;
    this.scopes = new Set(BOT_SCOPES);
    this.platformErrors.clear();
    this.failures.clear();
    this.limits.clear();
  }

  /** Answers withheld (see hold()). */
  readonly holds = new Holds<Record<string, unknown>>();

  /**
   * Holds the next `times` calls of `method` (whose arguments `match`): carried out but not answered (`mode:
   * 'answer'`, the default), or not even carried out until released (`'request'`). nextHeld() tells which
   * connection sent it.
   */
  hold(
    method: string,
    options: { times?: number; match?: (args: Record<string, unknown>) => boolean; mode?: HoldMode } = {},
  ): void {
    this.holds.arm(
      (what, args) => what === method && (options.match?.(args) ?? true),
      options.times ?? 1,
      options.mode,
    );
  }

  /** The next held answer. */
  nextHeld(timeoutMs = 30_000): Promise<HeldAnswer> {
    return this.holds.next(timeoutMs);
  }

  of(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
        let answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(json));
        };
        // An interaction's response_url (JSON body, no token: the URL is the credential).
        if ((req.url ?? '').startsWith('/actions/')) {
          let args: Record<string, unknown> = {};
          try {
            args = JSON.parse(body) as Record<string, unknown>;
          } catch {
            return answer(400, { ok: false, error: 'invalid_json' });
          }
          this.calls.push({ method: 'response_url', args, at: Date.now() });
          return answer(200, { ok: true });
        }
        const failure = this.failures.get(method)?.shift();
        if (failure !== undefined) {
          this.calls.push({ method: `${method} (${failure})`, args: {}, at: Date.now() });
          if (failure >= 500) {
            res.writeHead(failure, { 'content-type': 'text/html' });
            return res.end('<html>upstream error</html>');
          }
          return answer(failure, { ok: false, error: 'invalid_request' });
        }
        const limit = this.limits.get(method);
        if (limit && limit.times > 0) {
          limit.times--;
          this.calls.push({ method: `${method} (429)`, args: {}, at: Date.now() });
          return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
        }
        if (req.headers.authorization !== `Bearer ${this.token}`)
          return answer(200, { ok: false, error: 'invalid_auth' });
        const args: Record<string, unknown> = {};
        for (const [k, v] of new URLSearchParams(body)) {
          try {
            args[k] = k === 'blocks' || k === 'attachments' ? JSON.parse(v) : v;
          } catch {
            args[k] = v;
          }
        }
        const remotePort = req.socket.remotePort ?? 0;
        const held = this.holds.take(method, args);
        if (held === 'request') {
          return this.holds.add({
            what: method,
            remotePort,
            at: Date.now(),
            mode: held,
            release: () => this.respond(method, args, remotePort, answer),
            drop: () => req.socket.destroy(),
          });
        }
        if (held === 'answer') {
          const send = answer;
          answer = (status, json, headers) => {
            this.holds.add({
              what: method,
              remotePort,
              at: Date.now(),
              mode: held,
              release: () => send(status, json, headers),
              drop: () => req.socket.destroy(),
            });
          };
        }
        this.respond(method, args, remotePort, answer);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Carries out one Web API call and answers it. */
  private respond(
    method: string,
    args: Record<string, unknown>,
    remotePort: number,
    answer: (status: number, json: unknown, headers?: Record<string, string>) => void,
  ): void {
    this.calls.push({ method, args, at: Date.now(), remotePort });
    const platformError = this.platformErrors.get(method)?.shift();
    if (platformError !== undefined) return answer(200, { ok: false, error: platformError });
    const needed = NEEDED_SCOPE[method];
    if (needed && !this.scopes.has(needed)) {
      return answer(200, { ok: false, error: 'missing_scope', needed, provided: [...this.scopes].join(',') });
    }
    switch (method) {
      case 'auth.test':
        return answer(200, {
          ok: true,
          team: 'Example Co',
          user: 'sloe',
          team_id: 'T1',
          user_id: 'UBOT',
          bot_id: 'BBOT',
        });
      case 'chat.postMessage': {
        const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.messages).padStart(6, '0')}`;
        const channel = String(args.channel).startsWith('#')
          ? `C${String(args.channel)
              .slice(1)
              .toUpperCase()
              .replace(/[^A-Z0-9]/g, '')}`
          : String(args.channel);
        return answer(200, { ok: true, channel, ts, message: { text: args.text } });
      }
      case 'chat.update':
        return answer(200, { ok: true, channel: args.channel, ts: args.ts });
      case 'chat.getPermalink':
        return answer(200, {
          ok: true,
          permalink: `https://example.slack.com/archives/${String(args.channel)}/p${String(args.message_ts).replace('.', '')}`,
        });
      case 'conversations.open':
        return answer(200, { ok: true, channel: { id: `D${String(args.users)}` } });
      case 'chat.postEphemeral': {
        if (!args.channel) return answer(200, { ok: false, error: 'channel_not_found' });
        if (!args.user) return answer(200, { ok: false, error: 'user_not_found' });
        if (!args.text && !args.blocks) return answer(200, { ok: false, error: 'no_text' });
        return answer(200, {
          ok: true,
          message_ts: `${Math.floor(Date.now() / 1000)}.${String(++this.messages).padStart(6, '0')}`,
        });
      }
      case 'usergroups.list': {
        const withUsers = args.include_users === 'true' || args.include_users === '1';
        return answer(200, {
          ok: true,
          usergroups: this.groups.map((g) => ({
            id: g.id,
            team_id: 'T1',
            is_usergroup: true,
            name: g.name,
            description: '',
            handle: g.handle,
            is_external: false,
            date_create: 1446598059,
            date_update: 1446670362,
            date_delete: 0,
            auto_type: null,
            created_by: 'U060RNRCZ',
            updated_by: 'U060RNRCZ',
            deleted_by: null,
            prefs: { channels: [], groups: [] },
            user_count: g.users.length,
            ...(withUsers ? { users: g.users } : {}),
          })),
        });
      }
      case 'usergroups.users.list': {
        const group = this.groups.find((g) => g.id === args.usergroup);
        if (!args.usergroup) return answer(200, { ok: false, error: 'missing_argument' });
        if (!group) return answer(200, { ok: false, error: 'no_such_subteam' });
        return answer(200, { ok: true, users: group.users });
      }
      default:
        return answer(200, { ok: false, error: 'unknown_method' });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A Slack button click on an incident's message, signed with `secret` (or forged / dated as asked). */
export async function click(
  baseUrl: string,
  options: {
    action: 'sloe_ack' | 'sloe_resolve' | 'sloe_snooze' | 'sloe_silence';
    incidentId: string;
    user?: { id: string; username: string; teamId?: string };
    secret: string;
    timestamp?: number;
    forge?: boolean;
    /** A choice of the Snooze menu (its option value): the action is a `static_select` instead of a button. */
    option?: string;
    /** Where sloe may answer the click (Slack's response_url); the stand-in serves `…/actions/…`. */
    responseUrl?: string;
  },
): Promise<{ status: number; ms: number; body: string }> {
  const user = options.user ?? { id: 'U01ALICE', username: 'alice' };
  const action =
    options.option === undefined
      ? {
          action_id: options.action,
          block_id: `sloe_${options.incidentId}`,
          type: 'button',
          value: options.incidentId,
          text: { type: 'plain_text', text: 'Ack' },
          action_ts: '1.2',
        }
      : {
          action_id: options.action,
          block_id: `sloe_${options.incidentId}`,
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: options.option }, value: options.option },
          placeholder: { type: 'plain_text', text: 'Snooze…' },
          action_ts: '1.2',
        };
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 'example' },
    user: { id: user.id, username: user.username, name: user.username, team_id: user.teamId ?? 'T1' },
    api_app_id: 'A1',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: '1.1', channel_id: 'C1', is_ephemeral: false },
    trigger_id: '1.1.abc',
    channel: { id: 'C1', name: 'ai-alerts' },
    response_url: options.responseUrl ?? 'https://hooks.slack.com/actions/T1/1/abc',
    actions: [action],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const secret = options.forge ? 'not-the-secret' : options.secret;
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  const started = performance.now();
  const res = await fetch(`${baseUrl}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, ms: performance.now() - started, body: text };
}
