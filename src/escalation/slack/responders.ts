/**
 * Who may act on an incident from Slack. A policy's `responders` (Slack user ids and `@handle` user groups) and the
 * members of the on-call schedules its `oncall` steps page may; anyone else may not. A policy without `responders`
 * lets anyone who sees the message act. User groups are resolved with Slack's `usergroups.list` (handle → id) and
 * `usergroups.users.list` (members), each answer kept for a minute; a group that cannot be resolved lets nobody in
 * through it, and says why.
 */
import type { WebClient } from '@slack/web-api';
import type { Incident } from '../../incident/model.js';
import type { EscalationPolicy, OnCallSchedule } from '../../rules/model.js';
import { escapeText } from './mrkdwn.js';
import { describeSlackError } from './slack-channel.js';

/** How long a user group's id and members are trusted before Slack is asked again. */
export const GROUP_CACHE_MS = 60_000;

/** A user group that could not be checked, and why. */
export interface Unresolved {
  group: string;
  error: string;
}

export type Verdict = { allowed: true; as: string } | { allowed: false; unresolved: Unresolved[] };

/** Values loaded at most once per `ttlMs` per key; callers arriving meanwhile share the request; failures are not kept. */
class Expiring<V> {
  private readonly entries = new Map<string, { at: number; value: Promise<V> }>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.at < this.ttlMs) return entry.value;
    const value = load();
    this.entries.set(key, { at: this.now(), value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}

/** The names of the on-call schedules a policy's steps page. */
function scheduleNames(policy: EscalationPolicy): string[] {
  return [...new Set([...policy.page, ...policy.ticket].flatMap((s) => (s.notify === 'oncall' ? [s.schedule] : [])))];
}

/** Decides whether a Slack user may act on an incident. */
export class Responders {
  private readonly handles: Expiring<ReadonlyMap<string, string>>;
  private readonly members: Expiring<ReadonlySet<string>>;

  constructor(
    private readonly client: WebClient,
    now: () => number,
    ttlMs = GROUP_CACHE_MS,
  ) {
    this.handles = new Expiring(now, ttlMs);
    this.members = new Expiring(now, ttlMs);
  }

  /** Whether `user` may act under `policy` (frozen in the incident); `schedules` are those of the configuration now. */
  async check(
    policy: EscalationPolicy,
    schedules: ReadonlyMap<string, OnCallSchedule>,
    user: string,
  ): Promise<Verdict> {
    if (!policy.responders) return { allowed: true, as: 'anyone (the policy lists no responders)' };
    if (policy.responders.includes(user)) return { allowed: true, as: 'a responder' };
    for (const name of scheduleNames(policy)) {
      if (schedules.get(name)?.members.some((m) => m.slack === user))
        return { allowed: true, as: `a member of on-call schedule ${name}` };
    }
    const unresolved: Unresolved[] = [];
    for (const group of policy.responders.filter((r) => r.startsWith('@'))) {
      try {
        if ((await this.groupMembers(group)).has(user)) return { allowed: true, as: `a member of ${group}` };
      } catch (e) {
        unresolved.push({ group, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return { allowed: false, unresolved };
  }

  private async groupMembers(group: string): Promise<ReadonlySet<string>> {
    const handle = group.slice(1);
    const ids = await this.handles.get('', async () => {
      const r = await this.client.usergroups.list().catch((e: unknown) => {
        throw new Error(describeSlackError(e), { cause: e });
      });
      return new Map((r.usergroups ?? []).flatMap((g) => (g.handle && g.id ? [[g.handle, g.id] as const] : [])));
    });
    const id = ids.get(handle);
    if (!id) throw new Error(`no user group ${group} in this workspace`);
    return this.members.get(id, async () => {
      const r = await this.client.usergroups.users.list({ usergroup: id }).catch((e: unknown) => {
        throw new Error(describeSlackError(e), { cause: e });
      });
      return new Set(r.users ?? []);
    });
  }
}

/** The ephemeral answer to someone who may not act on an incident. */
export function refusalText(incident: Incident, action: string, unresolved: readonly Unresolved[]): string {
  const why = unresolved.length
    ? ` sloe could not check ${unresolved.map((u) => `user group ${u.group}: ${u.error}`).join('; ')}.`
    : '';
  return escapeText(
    `You are not a responder for ${incident.policy.name}/${incident.id} (${incident.sloId}): your ${action} was not applied.${why} ` +
      'Ask one of its responders or the person on call.',
  );
}

/** The audit trail's account of a refusal. */
export function refusalDetail(policy: EscalationPolicy, action: string, unresolved: readonly Unresolved[]): string {
  return `${action} from Slack refused: not a responder of policy ${policy.name}${unresolved.map((u) => `; user group ${u.group} could not be checked: ${u.error}`).join('')}`;
}
