/** Channels from the environment: Slack (Bolt), PagerDuty (pdjs) and on-call, with their HTTP endpoints. */
import type { Clock, IncidentActions, IncidentStore, Logger } from '../incident/ports.js';
import { expandReferences } from '../rules/env.js';
import type { Config } from '../rules/model.js';
import type { HttpServer } from '../server/http.js';
import type { Channels } from './escalator.js';
import { OnCallChannel } from './oncall/oncall-channel.js';
import { pagerDutyConfigFromEnv } from './pagerduty/client.js';
import { PagerDutyChannel } from './pagerduty/pagerduty-channel.js';
import { pagerDutyWebhook } from './pagerduty/webhook.js';
import { type SlackApp, createSlackApp } from './slack/interactivity.js';
import { SlackApi, SlackChannel } from './slack/slack-channel.js';
import type { SlackFlow } from './slack/storm.js';
import type { Incident } from '../incident/model.js';

/** What channels need of the engine running them: its actions, its store, its clock, log and configuration. */
export interface ChannelHost extends IncidentActions {
  readonly log: Logger;
  readonly now: Clock;
  readonly store: IncidentStore;
  /** Slack's pace and storms, shared by the replicas; unset: messages go as fast as they come. */
  readonly slackFlow?: SlackFlow;
  config(): Config;
}

export interface ChannelSetup {
  channels(engine: ChannelHost): Partial<Channels>;
  routes(server: HttpServer, engine: ChannelHost): void;
}

/** What SLACK_*, PAGERDUTY_* configure; what is not configured writes to the log. */
export function channelsFromEnv(env: NodeJS.ProcessEnv): ChannelSetup {
  let slackApp: SlackApp | undefined;
  const pagerduty = pagerDutyConfigFromEnv(env);
  return {
    channels(engine) {
      const out: Partial<Channels> = {};
      const token = env.SLACK_BOT_TOKEN;
      const secret = env.SLACK_SIGNING_SECRET;
      let api: SlackApi | undefined;
      if (token && secret) {
        slackApp = createSlackApp({
          token,
          signingSecret: secret,
          apiUrl: env.SLACK_API_URL,
          log: engine.log,
          now: engine.now,
          actions: () => engine,
          incidents: () => engine.store,
          schedules: () => engine.config().schedules,
          config: () => engine.config(),
        });
        api = new SlackApi(slackApp.client);
        const flow = engine.slackFlow;
        const incidents = async (ids: readonly string[]) =>
          (await Promise.all(ids.map((id) => engine.store.get(id)))).filter((i): i is Incident => i !== undefined);
        out.slack = new SlackChannel(api, env, flow ? { flow, incidents } : undefined);
        slackApp.client.auth.test().then(
          (r) =>
            engine.log.info(
              { event: 'slack-connected', team: r.team, bot: r.user },
              `Slack: connected to ${r.team} as ${r.user}`,
            ),
          (e: Error) =>
            engine.log.error(
              { event: 'slack-auth-failed', error: e.message },
              `Slack: the bot token was not accepted (${e.message})`,
            ),
        );
      } else if (token || secret) {
        engine.log.error(
          { event: 'slack-half-configured' },
          'Slack needs both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Slack steps are written to the log',
        );
      }
      const anyStepKey = [...engine.config().policies.values()].some((p) =>
        [...p.page, ...p.ticket].some((s) => {
          if (s.notify !== 'pagerduty' || !s.routingKey) return false;
          const { missing, refused } = expandReferences(s.routingKey, 'routingKey', env);
          return missing.length === 0 && refused.length === 0;
        }),
      );
      if (pagerduty.routingKey || anyStepKey) out.pagerduty = new PagerDutyChannel(pagerduty, env);
      out.oncall = new OnCallChannel(() => engine.config(), api, pagerduty);
      return out;
    },
    routes(server, engine) {
      if (slackApp) server.route('POST', '/slack/events', slackApp.handler);
      const secret = env.PAGERDUTY_WEBHOOK_SECRET;
      if (secret) server.route('POST', '/webhooks/pagerduty', pagerDutyWebhook(secret, engine, engine.log));
    },
  };
}
