import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Records, account, formatReport, incidentOfBlocks, sloOfText } from '../../bench/chaos/account.js';
import { FAULTS, FULL, SHORT, makePlan, profileFromEnv } from '../../bench/chaos/plan.js';
import { CHANNELS } from '../../bench/chaos/world.js';
import { pidOfConnection } from '../support/process.js';
import { incidentMessage } from '../../src/escalation/slack/blocks.js';
import { SlackStandIn } from '../support/stand-ins/slack.js';

describe('the chaos plan', () => {
  it('the full run strikes every kind of fault over at least ten minutes', () => {
    const plan = makePlan(FULL);
    expect(plan.endMs).toBeGreaterThanOrEqual(10 * 60_000);
    expect(new Set(plan.faults.map((f) => f.kind))).toEqual(new Set(FAULTS));
    expect(
      Math.max(...plan.faults.map((f) => f.at)) - Math.min(...plan.faults.map((f) => f.at)),
    ).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it.each([FULL, SHORT, profileFromEnv({ CHAOS_MINUTES: '45' }, FULL)])(
    '$name ($minutes min): episodes of one SLO never overlap, and Prometheus goes down only when every SLO is healthy',
    (profile) => {
      const plan = makePlan(profile);
      for (const slo of plan.slos) {
        const mine = plan.episodes
          .filter((e) => e.slo === slo && e.kind === 'breach')
          .sort((a, b) => a.start - b.start);
        for (let i = 1; i < mine.length; i++) {
          expect(mine[i]!.start).toBeGreaterThan(mine[i - 1]!.end + profile.resolveAfterS * 1000);
          // Nothing is evaluated while Redis is paused: the recovery between two breaches must be seen for resolveAfter.
          const [from, to] = [mine[i - 1]!.end, mine[i]!.start];
          const paused = plan.faults
            .filter((f) => f.kind === 'redis-pause')
            .reduce(
              (n, f) => n + Math.max(0, Math.min(to, f.at + profile.redisPauseS * 1000) - Math.max(from, f.at)),
              0,
            );
          expect(to - from - paused).toBeGreaterThan((profile.resolveAfterS + profile.intervalS) * 1000);
        }
      }
      const down = plan.faults.find((f) => f.kind === 'prometheus-down')!.at;
      for (const e of plan.episodes.filter((x) => x.kind === 'breach'))
        expect(e.end + (profile.resolveAfterS + profile.intervalS) * 1000).toBeLessThan(down);
    },
  );

  it('a longer run repeats the acts', () => {
    expect(
      makePlan(profileFromEnv({ CHAOS_MINUTES: '45' }, FULL)).episodes.filter((e) => e.kind === 'breach').length,
    ).toBeGreaterThan(makePlan(FULL).episodes.filter((e) => e.kind === 'breach').length);
  });

  it.each([
    [{ CHAOS_FAULTS: 'redis-pause,bogus' }, 'CHAOS_FAULTS: unknown fault "bogus"'],
    [{ CHAOS_MINUTES: 'ten' }, 'CHAOS_MINUTES="ten": expected a number'],
  ])('refuses %j', (env, message) => {
    expect(() => profileFromEnv(env)).toThrow(message);
  });
});

describe('the chaos accounting', () => {
  const plan = makePlan({ ...SHORT, faults: ['slack-errors'], acked: ['slack-errors'] });
  const [episode] = plan.episodes;
  const t0 = 1_800_000_000_000;
  const fired = t0 + episode!.start + 3000;
  const post = (at: number, channel: string, id: string) => ({
    method: 'chat.postMessage',
    at,
    args: { channel, text: `PAGE ${episode!.slo}: 500 > 100`, blocks: [{ type: 'actions', block_id: `sloe_${id}` }] },
  });
  const trigger = (at: number, id: string) => ({
    status: 202,
    at,
    event: {
      routing_key: 'k',
      event_action: 'trigger' as const,
      dedup_key: `sloe-${id}`,
      payload: { summary: `[page] ${episode!.slo}: 500 > 100`, severity: 'critical', source: 'sloe' },
    },
  });
  const records = (over: Partial<Records>): Records => ({
    plan,
    startedAt: t0,
    endedAt: t0 + plan.endMs,
    slackCalls: [],
    pagerDutyRequests: [],
    incidents: new Map(),
    evaluations: new Map(
      plan.slos.map((slo) => [slo, Array.from({ length: Math.floor(plan.endMs / 1000) }, (_, i) => t0 + i * 1000)]),
    ),
    faults: [],
    acks: [],
    unexpectedExits: [],
    refusedStarts: [],
    hostileRequests: [],
    ...over,
  });

  it('every step received once, no ack: all invariants hold', () => {
    const report = account(
      records({
        slackCalls: [post(fired, CHANNELS.page, 'a'), post(fired + 6000, CHANNELS.escalate, 'a')],
        pagerDutyRequests: [trigger(fired + 3000, 'a')],
      }),
    );
    expect(report.figures).toMatchObject({
      incidents_expected: 1,
      incidents_opened: 1,
      steps_expected: 3,
      steps_delivered: 3,
      steps_lost: 0,
      slack_top_level_duplicates: 0,
      evaluation_gaps: 0,
    });
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
  });

  it('a step nobody received is lost; a second top-level post of an incident is a duplicate; two dedup keys break "one PagerDuty incident"', () => {
    const report = account(
      records({
        slackCalls: [
          post(fired, CHANNELS.page, 'a'),
          post(fired + 50, CHANNELS.page, 'a'),
          post(fired + 100, CHANNELS.page, 'b'),
        ],
        pagerDutyRequests: [trigger(fired + 3000, 'a'), trigger(fired + 3100, 'b')],
      }),
    );
    expect(report.figures).toMatchObject({
      steps_lost: 1,
      slack_top_level_duplicates: 1,
      pagerduty_incidents_not_exactly_one: 1,
      incidents_opened: 2,
      incidents_expected: 1,
      incidents_extra: 1,
    });
    expect(report.episodes[0]!.lost).toEqual(['page.2']);
  });

  it('a re-armed incident\'s dedup key (sloe-<id>.<n>) is the same incident; a key triggered twice breaks "one trigger per PagerDuty incident"', () => {
    const rearmed = { ...trigger(fired + 3000, 'a'), event: { ...trigger(0, 'a').event, dedup_key: 'sloe-a.1' } };
    const once = account(
      records({
        slackCalls: [post(fired, CHANNELS.page, 'a'), post(fired + 6000, CHANNELS.escalate, 'a')],
        pagerDutyRequests: [rearmed],
      }),
    );
    expect(once.figures).toMatchObject({
      incidents_opened: 1,
      steps_lost: 0,
      pagerduty_keys_triggered_more_than_once: 0,
    });
    expect(once.invariants.filter((i) => !i.ok)).toEqual([]);
    const twice = account(
      records({
        slackCalls: [post(fired, CHANNELS.page, 'a'), post(fired + 6000, CHANNELS.escalate, 'a')],
        pagerDutyRequests: [rearmed, { ...rearmed, at: rearmed.at + 500 }],
      }),
    );
    expect(twice.figures.pagerduty_keys_triggered_more_than_once).toBe(1);
    expect(twice.invariants.find((i) => i.name.startsWith('trigger events per'))!.ok).toBe(false);
  });

  it('Redis emptied during an episode: its incident firing again is expected, not extra; the machine load is reported', () => {
    const wipe = { kind: 'redis-restart-empty' as const, start: fired + 1000, end: fired + 2000 };
    const report = account(
      records({
        slackCalls: [
          post(fired, CHANNELS.page, 'a'),
          post(fired + 4000, CHANNELS.page, 'b'),
          post(fired + 9000, CHANNELS.escalate, 'b'),
        ],
        pagerDutyRequests: [trigger(fired + 7000, 'b')],
        faults: [wipe],
        load: [
          [t0, 1.5],
          [t0 + 5000, 2.5],
        ],
        cpus: 2,
      }),
    );
    expect(report.figures).toMatchObject({
      incidents_expected: 2,
      incidents_opened: 2,
      incidents_extra: 0,
      incidents_refired_after_data_loss: 1,
      slack_top_level_duplicates: 0,
      cpus: 2,
    });
    expect(report.figures.load_average_1m).toEqual({ min: 1.5, mean: 2, max: 2.5, samples: 2 });
    expect(formatReport(report)).toContain('2 CPUs, load average (1 min) 1.5–2.5, mean 2');
  });

  it('after an Ack: later steps are not owed, and a trigger after it is a page after acknowledgement', () => {
    const ackAt = fired + 1000;
    const report = account(
      records({
        slackCalls: [post(fired, CHANNELS.page, 'a')],
        pagerDutyRequests: [trigger(fired + 3000 + 2500, 'a')],
        acks: [{ episode: episode!.id, incidentId: 'a', at: ackAt, status: 200 }],
      }),
    );
    expect(report.episodes[0]!.expected).toEqual(['page.0']);
    expect(report.figures.pages_after_ack).toBe(1);
    expect(report.invariants.find((i) => i.name.startsWith('pages after'))!.ok).toBe(false);
  });

  it('an Ack click whose user was told it was NOT recorded is no acknowledgement: later steps are still owed', () => {
    const ackAt = fired + 1000;
    const told = {
      method: 'chat.postEphemeral',
      at: ackAt + 200,
      args: {
        channel: 'C1',
        user: 'U0CAROL',
        text: 'Your Ack of incident a was NOT recorded: sloe could not store it within 2.5 s (Redis is not answering). Nothing was changed; please try again in a moment.',
      },
    };
    const report = account(
      records({
        slackCalls: [post(fired, CHANNELS.page, 'a'), told],
        pagerDutyRequests: [trigger(fired + 3000, 'a')],
        acks: [{ episode: episode!.id, incidentId: 'a', at: ackAt, status: 200 }],
      }),
    );
    expect(report.episodes[0]!.expected).toEqual(['page.0', 'page.1', 'page.2']);
    expect(report.figures).toMatchObject({ acks_sent: 0, acks_not_recorded: 1, pages_after_ack: 0, steps_lost: 1 });
  });

  it('evaluations that stop count as a gap, unless Redis itself was down then', () => {
    const stopped = new Map(plan.slos.map((slo) => [slo, [t0, t0 + 1000, t0 + 2000]]));
    expect(account(records({ evaluations: stopped })).figures.evaluation_gaps).toBe(plan.slos.length);
    const paused = new Map(
      plan.slos.map((slo) => [
        slo,
        [t0, t0 + 1000, t0 + 6000, t0 + 7000].concat(
          Array.from({ length: Math.floor(plan.endMs / 1000) - 7 }, (_, i) => t0 + 8000 + i * 1000),
        ),
      ]),
    );
    const report = account(
      records({ evaluations: paused, faults: [{ kind: 'redis-pause', start: t0 + 1500, end: t0 + 5500 }] }),
    );
    expect(report.figures).toMatchObject({ evaluation_gaps: 0, evaluation_gaps_during_redis_faults: plan.slos.length });
  });

  it('a no-data ticket that fires after the planned end of the outage (Prometheus back late) still counts for its episode', () => {
    const down = makePlan({ ...SHORT, faults: ['prometheus-down'], acked: [] });
    const nodata = down.episodes.find((e) => e.kind === 'nodata')!;
    const raise = down.episodes.find((e) => e.kind === 'raise')!;
    const ticket = (at: number, slo: string, id: string) => ({
      method: 'chat.postMessage',
      at,
      args: {
        channel: CHANNELS.ticket,
        text: `TICKET ${slo}: no data`,
        blocks: [{ type: 'actions', block_id: `sloe_${id}` }],
      },
    });
    const late = t0 + raise.start + 1500;
    const report = account({
      ...records({}),
      plan: down,
      endedAt: t0 + down.endMs,
      slackCalls: down.slos.map((slo, i) => ticket(slo === nodata.slo ? late : t0 + nodata.start + 4000, slo, `t${i}`)),
    });
    expect(report.episodes.find((e) => e.id === nodata.id)!.delivered).toEqual(['ticket.0']);
    expect(report.figures.nodata_tickets_opened).toBe(down.slos.length);
  });

  it('reads the SLO and the incident from what sloe sends', () => {
    expect(sloOfText('PAGE chaos/s1: 500 > 100 (objective < 50)')).toBe('chaos/s1');
    expect(sloOfText('[ticket] chaos/s12{model="a"}: no data')).toBe('chaos/s12');
    expect(sloOfText('Also posted in #x.')).toBeUndefined();
    const message = incidentMessage({
      id: 'abc123',
      status: 'firing',
      severity: 'page',
      reason: 'breach',
      labels: {},
      service: 's',
      slo: 'x',
      sloId: 's/x',
      message: 'm',
      condition: '> 1',
      objective: null,
      firedAt: 0,
      dashboard: { id: 'd', title: 'D', owner: 'o' },
      owner: 'o',
    } as never);
    expect(incidentOfBlocks(message.blocks)).toBe('abc123');
  });
});

describe('the stand-ins holding a request', () => {
  async function post(slack: SlackStandIn, text: string): Promise<{ status: number | 'closed' }> {
    return fetch(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/x-www-form-urlencoded' },
      body: `channel=%23a&text=${encodeURIComponent(text)}`,
    }).then(
      (r) => ({ status: r.status }),
      () => ({ status: 'closed' as const }),
    );
  }

  it("'answer': carried out, answered only when released; 'request': dropped, it never happened", async () => {
    const slack = new SlackStandIn('t');
    await slack.start();
    try {
      slack.hold('chat.postMessage', { mode: 'answer' });
      const answered = post(slack, 'one');
      const held = await slack.nextHeld(5000);
      expect(slack.of('chat.postMessage').map((c) => c.args.text)).toEqual(['one']);
      held.release();
      expect(await answered).toEqual({ status: 200 });

      slack.hold('chat.postMessage', { mode: 'request' });
      const lost = post(slack, 'two');
      (await slack.nextHeld(5000)).drop();
      expect(await lost).toEqual({ status: 'closed' });
      expect(slack.of('chat.postMessage').map((c) => c.args.text)).toEqual(['one']);
    } finally {
      await slack.stop();
    }
  });

  it('tells which process holds the other end of a connection', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const serverPort = (server.address() as AddressInfo).port;
    const socket = connect(serverPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    try {
      expect(await pidOfConnection(socket.localPort!, [999_999_999, process.pid], serverPort)).toBe(process.pid);
      expect(await pidOfConnection(socket.localPort!, [999_999_999], serverPort)).toBeUndefined();
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
