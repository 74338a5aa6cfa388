/**
 * Incident state in Redis. Every change that must not be half-done — an evaluation's new state with the incidents
 * it opens, raises and resolves; an acknowledgement; a resolution by hand — is one Lua script, so replicas sharing
 * a Redis never open an incident twice or lose a resolution.
 *
 * Keys (under the prefix): `state:<slo>` hash (rev, evaluatedAt, data, reset:<instance>), `open` hash
 * (instance → incident id), `severity` hash (open incident id → severity), `incident:<id>` hash, `audit:<id>`
 * list, `incidents` sorted set by firing time, `resolved` sorted set by resolution time (the last day's),
 * `delivery:<id>:<step>` string, `groups` hash (group key → the firing time and id of its latest group's leader),
 * `group:<leader id>` set (the group's members, the leader among them). `longwin:<slo>` (the cached long-window
 * sums) is written by long-window-store.ts.
 */
import { type Silence, silenceEnd } from '../rules/silence.js';
import type { PageInterval } from '../rules/inhibit.js';
import type { Redis } from 'ioredis';
import type { InstanceState } from '../evaluator/state.js';
import type { AuditEntry, Incident, IncidentDoc, IncidentStatus } from '../incident/model.js';
import type { IncidentStore } from '../incident/ports.js';
import { SEVERITIES } from '../rules/schema.js';

/** The alert state of one SLO's instances, with the revision that guards concurrent writers. */
export interface SloState {
  rev: number;
  evaluatedAt: number;
  instances: Record<string, InstanceState>;
  /** Instances resolved by hand since the last evaluation: they start over from ok. */
  resets: string[];
}

/**
 * What an evaluation changes besides the state, applied in the same script. Times are strings: Lua would print
 * large numbers in exponent form.
 */
export type StoreOp =
  /**
   * An incident opens. With `group` (its policy's grouping; not for a held incident) it joins the group of that key
   * when the group's first incident fired at most `waitMs` before and fires at this severity or above; else it
   * starts a group of its own.
   */
  | {
      op: 'open';
      instanceKey: string;
      id: string;
      firedAt: string;
      fields: Record<string, string>;
      audit: string;
      held?: string;
      group?: { key: string; waitMs: string };
    }
  /**
   * A raise (ticket to page, or no data to breach). An acknowledged incident is re-armed: firing again, the
   * acknowledgement kept as `previousAck`, and `rearm` ([before, after] the acknowledger's name) appended to the audit.
   */
  | {
      op: 'escalate';
      instanceKey: string;
      fields: Record<string, string>;
      audit: string;
      rearm: [string, string];
      held?: string;
    }
  | { op: 'resolve'; instanceKey: string; resolvedAt: string; audit: string };

export interface ApplyResult {
  applied: boolean;
  opened: string[];
  escalated: string[];
  /** The escalated incidents that had been acknowledged: firing again. */
  rearmed: string[];
  resolved: string[];
}

const APPLY = `
local stateKey, openKey, indexKey = KEYS[1], KEYS[2], KEYS[3]
local expected, data, evaluatedAt, opsJson, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rev = redis.call('HGET', stateKey, 'rev') or '0'
if rev ~= expected then return cjson.encode({applied = false}) end
local opened, escalated, rearmed, resolved = {}, {}, {}, {}
-- A group carries an incident at this severity while its leader fires at it or above.
local function carries(leader, severity)
  local lead = redis.call('HMGET', prefix .. 'incident:' .. leader, 'status', 'severity')
  return lead[1] == 'firing' and (lead[2] == 'page' or severity ~= 'page')
end
for _, op in ipairs(cjson.decode(opsJson)) do
  if op.op == 'open' then
    if redis.call('HSETNX', openKey, op.instanceKey, op.id) == 1 then
      local key = prefix .. 'incident:' .. op.id
      for field, value in pairs(op.fields) do redis.call('HSET', key, field, value) end
      if op.group and not op.held then
        local leader = nil
        local current = redis.call('HGET', prefix .. 'groups', op.group.key)
        if current then
          local at, id = string.match(current, '^(%d+):(.+)$')
          if at and tonumber(op.firedAt) - tonumber(at) <= tonumber(op.group.waitMs) and carries(id, op.fields.severity) then leader = id end
        end
        if not leader then
          leader = op.id
          redis.call('HSET', prefix .. 'groups', op.group.key, op.firedAt .. ':' .. op.id)
        end
        redis.call('HSET', key, 'group', leader)
        redis.call('SADD', prefix .. 'group:' .. leader, op.id)
      end
      redis.call('ZADD', indexKey, op.firedAt, op.id)
      redis.call('HSET', prefix .. 'severity', op.id, op.fields.severity)
      redis.call('RPUSH', prefix .. 'audit:' .. op.id, op.audit)
      if op.held then redis.call('RPUSH', prefix .. 'audit:' .. op.id, op.held) end
      table.insert(opened, op.id)
    end
  else
    local id = redis.call('HGET', openKey, op.instanceKey)
    if id then
      local key = prefix .. 'incident:' .. id
      local audit = op.audit
      if op.op == 'escalate' then
        -- An acknowledgement (or a snooze) of a ticket is not one of the page it became: fire again.
        -- A member whose group does not carry it at its new severity (or acknowledged) escalates on its own.
        local group = redis.call('HGET', key, 'group')
        if group and group ~= id and not carries(group, op.fields.severity) then
          redis.call('HDEL', key, 'group')
          redis.call('SREM', prefix .. 'group:' .. group, id)
        end
        local before = redis.call('HMGET', key, 'status', 'acknowledgedBy', 'acknowledgedAt', 'severity', 'reason')
        if before[1] == 'acknowledged' then
          local by = before[2] or 'someone'
          redis.call('HSET', key, 'status', 'firing', 'previousAck', cjson.encode({by = by, at = before[3] or '', severity = before[4] or '', reason = before[5] or ''}))
          redis.call('HDEL', key, 'acknowledgedBy', 'acknowledgedAt')
          redis.call('HINCRBY', key, 'rearms', 1)
          local entry = cjson.decode(audit)
          entry.detail = entry.detail .. op.rearm[1] .. by .. op.rearm[2]
          audit = cjson.encode(entry)
          table.insert(rearmed, id)
        else
          redis.call('HDEL', key, 'previousAck')
        end
        redis.call('HDEL', key, 'snoozedUntil')
        for field, value in pairs(op.fields) do redis.call('HSET', key, field, value) end
        redis.call('HSET', prefix .. 'severity', id, op.fields.severity)
        table.insert(escalated, id)
      else
        redis.call('HDEL', openKey, op.instanceKey)
        redis.call('HDEL', prefix .. 'severity', id)
        if redis.call('HGET', key, 'status') ~= 'resolved' then
          redis.call('HSET', key, 'status', 'resolved', 'resolvedAt', op.resolvedAt, 'resolvedBy', 'sloe')
          redis.call('ZADD', prefix .. 'resolved', op.resolvedAt, id)
          table.insert(resolved, id)
        end
      end
      redis.call('RPUSH', prefix .. 'audit:' .. id, audit)
      if op.held then redis.call('RPUSH', prefix .. 'audit:' .. id, op.held) end
    end
  end
end
local resets = {}
for _, f in ipairs(redis.call('HKEYS', stateKey)) do
  if string.sub(f, 1, 6) == 'reset:' then table.insert(resets, f) end
end
if #resets > 0 then redis.call('HDEL', stateKey, unpack(resets)) end
redis.call('HSET', stateKey, 'rev', tonumber(rev) + 1, 'evaluatedAt', evaluatedAt, 'data', data)
return cjson.encode({applied = true, opened = opened, escalated = escalated, rearmed = rearmed, resolved = resolved})
`;

/**
 * Whether a deadline (epoch ms, '' for none) has passed by Redis' clock: a change someone was told was NOT made
 * (Redis did not answer in time) must not be made when the command reaches Redis later (a paused or restarting Redis).
 */
const PAST_DEADLINE = `
local function past(deadline)
  if deadline == nil or deadline == '' then return false end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline)
end`;

/** Acknowledge (ARGV[1] = 'acknowledged') or snooze a firing incident; returns its status before. */
const TRANSITION = `
local key, auditKey = KEYS[1], KEYS[2]
${PAST_DEADLINE}
if past(ARGV[6]) then return 'expired' end
local status = redis.call('HGET', key, 'status')
if not status then return 'missing' end
if status ~= 'firing' then return status end
if ARGV[1] == 'acknowledged' then
  redis.call('HSET', key, 'status', 'acknowledged', 'acknowledgedAt', ARGV[2], 'acknowledgedBy', ARGV[3])
else
  redis.call('HSET', key, 'snoozedUntil', ARGV[4])
end
redis.call('RPUSH', auditKey, ARGV[5])
return status
`;

/** Resolve by hand: closes the incident and makes its instance start over from ok at the next evaluation. */
const RESOLVE = `
local key, auditKey, openKey, stateKey, severityKey, resolvedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
${PAST_DEADLINE}
if past(ARGV[5]) then return 'expired' end
local status = redis.call('HGET', key, 'status')
if not status then return 'missing' end
if status == 'resolved' then return status end
redis.call('HSET', key, 'status', 'resolved', 'resolvedAt', ARGV[1], 'resolvedBy', ARGV[2])
local instance = redis.call('HGET', key, 'instanceKey')
if redis.call('HGET', openKey, instance) == ARGV[3] then redis.call('HDEL', openKey, instance) end
redis.call('HDEL', severityKey, ARGV[3])
redis.call('ZADD', resolvedKey, ARGV[1], ARGV[3])
redis.call('HSET', stateKey, 'reset:' .. instance, '1')
redis.call('HINCRBY', stateKey, 'rev', 1)
redis.call('RPUSH', auditKey, ARGV[4])
return status
`;

/** Claim a delivery: ['claimed'], ['done'], or ['busy', ms the holder's claim still lasts]. */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {'claimed'} end
local value = redis.call('GET', KEYS[1])
if value == 'done' or value == 'failed' then return {'done'} end
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'claimed'}
end
return {'busy', redis.call('PTTL', KEYS[1])}
`;

/** Give up a claim if it is still the caller's. */
const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Extend a claim if it is still the caller's. */
const EXTEND_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

type Scripts = Redis & {
  sloeClaim(key: string, owner: string, ttlMs: string): Promise<unknown>;
  sloeExtendClaim(key: string, owner: string, ttlMs: string): Promise<number>;
  sloeReleaseClaim(key: string, owner: string): Promise<number>;
  sloeApply(stateKey: string, openKey: string, indexKey: string, ...args: string[]): Promise<string>;
  sloeTransition(key: string, auditKey: string, ...args: string[]): Promise<string>;
  sloeResolve(
    key: string,
    auditKey: string,
    openKey: string,
    stateKey: string,
    severityKey: string,
    resolvedKey: string,
    ...args: string[]
  ): Promise<string>;
};

/** Reads and changes incidents and alert state in Redis. */
export class RedisIncidentStore implements IncidentStore {
  private readonly redis: Scripts;

  constructor(
    redis: Redis,
    readonly prefix: string,
  ) {
    this.redis = redis as Scripts;
    this.redis.defineCommand('sloeApply', { numberOfKeys: 3, lua: APPLY });
    this.redis.defineCommand('sloeTransition', { numberOfKeys: 2, lua: TRANSITION });
    this.redis.defineCommand('sloeResolve', { numberOfKeys: 6, lua: RESOLVE });
    this.redis.defineCommand('sloeClaim', { numberOfKeys: 1, lua: CLAIM });
    this.redis.defineCommand('sloeExtendClaim', { numberOfKeys: 1, lua: EXTEND_CLAIM });
    this.redis.defineCommand('sloeReleaseClaim', { numberOfKeys: 1, lua: RELEASE_CLAIM });
  }

  /** The state this store wrote last per SLO, as written (APPLY's revision check guards its use). */
  private readonly written = new Map<string, { rev: number; evaluatedAt: number; data: string }>();

  private key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  /**
   * An SLO's state: the one this store wrote last, when it did (no read), else Redis'. A state written since by
   * anyone else (another replica, a resolution by hand) has a newer revision, so APPLY turns the evaluation away and
   * the next attempt reads Redis (`fromRedis`): a decision is never stored on top of a state it did not start from.
   */
  async loadState(sloId: string, fromRedis = false): Promise<SloState> {
    const mine = fromRedis ? undefined : this.written.get(sloId);
    if (mine) {
      const { rev, evaluatedAt, data } = mine;
      return { rev, evaluatedAt, instances: JSON.parse(data) as Record<string, InstanceState>, resets: [] };
    }
    const h = await this.redis.hgetall(this.key('state', sloId));
    return {
      rev: Number(h.rev ?? 0),
      evaluatedAt: Number(h.evaluatedAt ?? 0),
      instances: h.data ? (JSON.parse(h.data) as Record<string, InstanceState>) : {},
      resets: Object.keys(h)
        .filter((f) => f.startsWith('reset:'))
        .map((f) => f.slice('reset:'.length)),
    };
  }

  /** Writes an SLO's new state and its incident changes if nobody wrote since `rev`. */
  async apply(
    sloId: string,
    rev: number,
    evaluatedAt: number,
    instances: Record<string, InstanceState>,
    ops: StoreOp[],
  ): Promise<ApplyResult> {
    const data = JSON.stringify(instances);
    // Until it is known what Redis holds, the next evaluation reads it.
    this.written.delete(sloId);
    const raw = await this.redis.sloeApply(
      this.key('state', sloId),
      this.key('open'),
      this.key('incidents'),
      String(rev),
      data,
      String(evaluatedAt),
      JSON.stringify(ops),
      `${this.prefix}:`,
    );
    const r = JSON.parse(raw) as Partial<ApplyResult> & { applied: boolean };
    // APPLY wrote revision rev + 1 with these instances and no resets.
    if (r.applied) this.written.set(sloId, { rev: rev + 1, evaluatedAt, data });
    // cjson writes an empty Lua table as {}.
    const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
    return {
      applied: r.applied,
      opened: list(r.opened),
      escalated: list(r.escalated),
      rearmed: list(r.rearmed),
      resolved: list(r.resolved),
    };
  }

  /** Stores a run-time silence (its window fixed); it is dropped once it has ended. */
  async addSilence(id: string, silence: Silence): Promise<void> {
    await this.redis.hset(this.key('silences'), id, JSON.stringify(silence));
  }

  /** The run-time silences that have not ended by `now`, by id; ended ones are removed. */
  async silences(now: number): Promise<Array<{ id: string; silence: Silence }>> {
    const all = await this.redis.hgetall(this.key('silences'));
    const out: Array<{ id: string; silence: Silence }> = [];
    const ended: string[] = [];
    for (const [id, json] of Object.entries(all)) {
      const silence = JSON.parse(json) as Silence;
      if (silenceEnd(silence) <= now) ended.push(id);
      else out.push({ id, silence });
    }
    if (ended.length) await this.redis.hdel(this.key('silences'), ...ended);
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async get(id: string): Promise<Incident | undefined> {
    const h = await this.redis.hgetall(this.key('incident', id));
    if (!h.doc) return undefined;
    const doc = JSON.parse(h.doc) as IncidentDoc;
    const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    const refs: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith('ref.')) refs[k.slice(4)] = v;
    return {
      ...doc,
      status: h.status as IncidentStatus,
      severity: h.severity as Incident['severity'],
      reason: h.reason as Incident['reason'],
      message: h.message ?? '',
      token: h.token ?? '',
      escalatedAt: Number(h.escalatedAt ?? doc.firedAt),
      acknowledgedAt: num(h.acknowledgedAt),
      acknowledgedBy: h.acknowledgedBy || undefined,
      resolvedAt: num(h.resolvedAt),
      resolvedBy: h.resolvedBy || undefined,
      snoozedUntil: num(h.snoozedUntil),
      ...(num(h.heldUntil) !== undefined ? { heldUntil: num(h.heldUntil), heldBy: h.heldBy ?? '' } : {}),
      rearms: Number(h.rearms ?? 0),
      ...(h.previousAck ? { previousAck: previousAck(h.previousAck) } : {}),
      refs,
      ...(h.group ? { group: h.group } : {}),
    };
  }

  /** The leader of the group an incident is in (one field read: actions ask it of every incident they act on). */
  async groupOf(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('incident', id), 'group')) ?? undefined;
  }

  /** The incidents of the group `leader` leads, the leader first, then by firing time. */
  async members(leader: string): Promise<Incident[]> {
    const ids = await this.redis.smembers(this.key('group', leader));
    const incidents = (await Promise.all(ids.map((id) => this.get(id)))).filter(
      (i): i is Incident => i !== undefined && i.group === leader,
    );
    return incidents.sort((a, b) =>
      a.id === leader ? -1 : b.id === leader ? 1 : a.firedAt - b.firedAt || (a.id < b.id ? -1 : 1),
    );
  }

  /** Incidents by firing time, newest first; `open` keeps those not resolved. */
  async list(options: { open?: boolean; limit?: number } = {}): Promise<Incident[]> {
    const limit = options.limit ?? 100;
    const ids = options.open
      ? Object.values(await this.redis.hgetall(this.key('open')))
      : await this.redis.zrevrange(this.key('incidents'), 0, limit - 1);
    const incidents = (await Promise.all(ids.map((id) => this.get(id)))).filter((i): i is Incident => i !== undefined);
    return incidents.sort((a, b) => b.firedAt - a.firedAt).slice(0, limit);
  }

  /**
   * One page of incidents, newest first (by firing time, then id, both descending): at most `limit`, starting after
   * the incident `after` names; `more` says whether another page follows.
   */
  async page(options: {
    open?: boolean;
    limit: number;
    after?: { firedAt: number; id: string };
  }): Promise<{ incidents: Incident[]; more: boolean }> {
    const { limit, after } = options;
    const later = (firedAt: number, id: string) =>
      after !== undefined && (firedAt > after.firedAt || (firedAt === after.firedAt && id >= after.id));
    let ids: string[];
    if (options.open) {
      const open = (
        await Promise.all(Object.values(await this.redis.hgetall(this.key('open'))).map((id) => this.get(id)))
      ).filter((i): i is Incident => i !== undefined);
      ids = open
        .sort((a, b) => b.firedAt - a.firedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .filter((i) => !later(i.firedAt, i.id))
        .slice(0, limit + 1)
        .map((i) => i.id);
    } else {
      // Ties on the firing time come in reverse id order (ZREVRANGEBYSCORE); the ones up to the cursor are skipped.
      ids = [];
      const max = after === undefined ? '+inf' : String(after.firedAt);
      for (let offset = 0; ids.length <= limit; offset += limit + 1) {
        const chunk = await this.redis.zrevrangebyscore(
          this.key('incidents'),
          max,
          '-inf',
          'WITHSCORES',
          'LIMIT',
          offset,
          limit + 1,
        );
        for (let i = 0; i < chunk.length && ids.length <= limit; i += 2) {
          if (!later(Number(chunk[i + 1]), chunk[i]!)) ids.push(chunk[i]!);
        }
        if (chunk.length < 2 * (limit + 1)) break;
      }
    }
    const incidents = (await Promise.all(ids.slice(0, limit).map((id) => this.get(id)))).filter(
      (i): i is Incident => i !== undefined,
    );
    return { incidents, more: ids.length > limit };
  }

  /** The open incidents of some instances (instance key → incident id, where one is open). */
  async openIncidentIds(instanceKeys: readonly string[]): Promise<Record<string, string>> {
    if (instanceKeys.length === 0) return {};
    const ids = await this.redis.hmget(this.key('open'), ...instanceKeys);
    return Object.fromEntries(instanceKeys.flatMap((k, i) => (ids[i] ? [[k, ids[i]!]] : [])));
  }

  /**
   * The pages open now (acknowledged or snoozed ones too: they still fire) and those resolved since `since`, for the
   * holds of the SLOs depending on them. Reads the open-incident and severity indexes and the resolution index, not
   * every incident; resolutions older than a day (the longest inhibitFor) are dropped from it.
   */
  async pages(since: number): Promise<PageInterval[]> {
    const resolvedKey = this.key('resolved');
    const [open, severity, resolved] = await Promise.all([
      this.redis.hgetall(this.key('open')),
      this.redis.hgetall(this.key('severity')),
      this.redis.zrangebyscore(resolvedKey, since, '+inf', 'WITHSCORES'),
      this.redis.zremrangebyscore(resolvedKey, '-inf', since - 86_400_000),
    ]);
    const sloOf = (instanceKey: string) =>
      instanceKey.slice(0, instanceKey.indexOf('{') < 0 ? undefined : instanceKey.indexOf('{'));
    const interval = (instanceKey: string, id: string, end: number | null): PageInterval => {
      const sloId = sloOf(instanceKey);
      // Open pages began before now; when exactly does not matter to a hold asked now.
      return { sloId, service: sloId.split('/')[0]!, start: -Infinity, end, incidentId: id };
    };
    const out = Object.entries(open).flatMap(([instanceKey, id]) =>
      severity[id] === 'page' ? [interval(instanceKey, id, null)] : [],
    );
    const ended: Array<[string, number]> = [];
    for (let i = 0; i + 1 < resolved.length; i += 2) ended.push([resolved[i]!, Number(resolved[i + 1])]);
    if (ended.length) {
      const pipeline = this.redis.pipeline();
      for (const [id] of ended) pipeline.hmget(this.key('incident', id), 'instanceKey', 'severity');
      const rows = (await pipeline.exec()) ?? [];
      ended.forEach(([id, at], i) => {
        const [error, fields] = rows[i] ?? [];
        if (error) throw error;
        const [instanceKey, sev] = fields as [string | null, string | null];
        if (instanceKey && sev === 'page') out.push(interval(instanceKey, id, at));
      });
    }
    return out;
  }

  /** How many incidents are open, by severity. */
  async openCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    for (const severity of await this.redis.hvals(this.key('severity'))) counts[severity] = (counts[severity] ?? 0) + 1;
    return counts;
  }

  async audit(id: string): Promise<AuditEntry[]> {
    return (await this.redis.lrange(this.key('audit', id), 0, -1)).map((l) => JSON.parse(l) as AuditEntry);
  }

  async addAudit(id: string, entry: AuditEntry): Promise<void> {
    await this.redis.rpush(this.key('audit', id), JSON.stringify(entry));
  }

  async setRefs(id: string, refs: Record<string, string>): Promise<void> {
    if (Object.keys(refs).length === 0) return;
    await this.redis.hset(
      this.key('incident', id),
      Object.fromEntries(Object.entries(refs).map(([k, v]) => [`ref.${k}`, v])),
    );
  }

  /** Acknowledges a firing incident; returns the status it had ('firing' when this call acknowledged it). */
  async acknowledge(
    id: string,
    at: number,
    by: string,
    audit: AuditEntry,
    deadline?: number,
  ): Promise<IncidentStatus | 'missing' | 'expired'> {
    return this.transition(id, 'acknowledged', [String(at), by, ''], audit, deadline);
  }

  /** Holds a firing incident's escalation until `until`; returns the status it had. */
  async snooze(
    id: string,
    until: number,
    audit: AuditEntry,
    deadline?: number,
  ): Promise<IncidentStatus | 'missing' | 'expired'> {
    return this.transition(id, 'snoozed', ['', '', String(until)], audit, deadline);
  }

  /**
   * Runs the TRANSITION script on a firing incident: `to` with its fields (acknowledged at, by, snoozed until), the
   * audit entry and the caller's deadline; returns the status the incident had.
   */
  private async transition(
    id: string,
    to: 'acknowledged' | 'snoozed',
    fields: [at: string, by: string, until: string],
    audit: AuditEntry,
    deadline: number | undefined,
  ): Promise<IncidentStatus | 'missing' | 'expired'> {
    return (await this.redis.sloeTransition(
      this.key('incident', id),
      this.key('audit', id),
      to,
      ...fields,
      JSON.stringify(audit),
      deadline === undefined ? '' : String(deadline),
    )) as IncidentStatus | 'missing' | 'expired';
  }

  /** Resolves by hand; returns the status it had. */
  async resolve(
    incident: Incident,
    at: number,
    by: string,
    audit: AuditEntry,
    deadline?: number,
  ): Promise<IncidentStatus | 'missing' | 'expired'> {
    return (await this.redis.sloeResolve(
      this.key('incident', incident.id),
      this.key('audit', incident.id),
      this.key('open'),
      this.key('state', incident.sloId),
      this.key('severity'),
      this.key('resolved'),
      String(at),
      by,
      incident.id,
      JSON.stringify(audit),
      deadline === undefined ? '' : String(deadline),
    )) as IncidentStatus | 'missing' | 'expired';
  }

  /**
   * Claims the delivery of one step (or update) so that only one worker sends it: 'claimed' for the caller, 'done'
   * when it was sent before, or how long (ms) another worker's claim still lasts. A claim lapses after `ttlMs`
   * unless its holder extends it: a worker that died holding one gives the delivery up after at most `ttlMs`.
   */
  async claimDelivery(
    id: string,
    step: string,
    owner: string,
    ttlMs: number,
  ): Promise<'claimed' | 'done' | { busyMs: number }> {
    const [outcome, value] = (await this.redis.sloeClaim(
      this.key('delivery', id, step),
      `claim:${owner}`,
      String(ttlMs),
    )) as [string, string | number];
    if (outcome === 'claimed') return 'claimed';
    if (outcome === 'done') return 'done';
    return { busyMs: Math.max(0, Number(value)) };
  }

  /**
   * Records that a signed request was seen (SET NX with a TTL): true the first time, false for a replay within `ttlMs`.
   * Shared by every replica, so a captured request cannot be replayed against another one either.
   */
  async firstSeen(kind: string, id: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('seen', kind, id), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Extends the caller's claim by `ttlMs`; false when the claim is not the caller's any more (it lapsed). */
  async extendDelivery(id: string, step: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.sloeExtendClaim(this.key('delivery', id, step), `claim:${owner}`, String(ttlMs))) === 1;
  }

  /** Gives up the caller's claim on a delivery that will be tried again later. */
  async releaseDelivery(id: string, step: string, owner: string): Promise<void> {
    await this.redis.sloeReleaseClaim(this.key('delivery', id, step), `claim:${owner}`);
  }

  /** Records the outcome of a claimed delivery; kept for 30 days. */
  async finishDelivery(id: string, step: string, outcome: 'done' | 'failed'): Promise<void> {
    await this.redis.set(this.key('delivery', id, step), outcome, 'EX', 30 * 86_400);
  }
}

/** The acknowledgement a raise overrode, as the APPLY script stored it (times as strings). */
function previousAck(json: string): NonNullable<Incident['previousAck']> {
  const a = JSON.parse(json) as { by: string; at: string; severity: Incident['severity']; reason: Incident['reason'] };
  return { by: a.by, at: Number(a.at), severity: a.severity, reason: a.reason };
}

/** The hash fields of a new incident. */
export function incidentFields(
  doc: IncidentDoc,
  i: Pick<Incident, 'status' | 'severity' | 'reason' | 'message' | 'token' | 'escalatedAt'>,
): Record<string, string> {
  return {
    doc: JSON.stringify(doc),
    instanceKey: doc.instanceKey,
    status: i.status,
    severity: i.severity,
    reason: i.reason,
    message: i.message,
    token: i.token,
    escalatedAt: String(i.escalatedAt),
  };
}
