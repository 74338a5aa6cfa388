/**
 * Channels deliver escalation steps (a Slack message, a PagerDuty event, an on-call page) and follow the incident's
 * later changes. A channel says whether a failure is worth retrying; one retry stage acts on that, so that the
 * retry behaviour is the same for every channel.
 */
import type { Incident } from '../incident/model.js';
import type { IncidentUpdate } from '../incident/jobs.js';
import type { Logger } from '../incident/ports.js';
import type { Step } from '../rules/model.js';
import { sleep as realSleep } from '../util/async.js';
import { redactUrls } from '../util/redact.js';

/**
 * What a delivery came to. A failure with `later` was not attempted (a channel's pace, a storm summary not yet
 * posted): the job runs it again after that many ms, from the queue, holding no worker and counting no attempt.
 */
export type DeliveryResult =
  | { ok: true; refs?: Record<string, string>; detail?: string }
  | { ok: false; retry: boolean; error: string; retryAfterMs?: number; later?: number };

export interface StepContext {
  incident: Incident;
  step: Step;
  /** `page.1`: identifies the step within the incident's escalation. */
  stepKey: string;
  /** 0 for the step's first run, n for its n-th repetition (a policy's `repeat`). */
  round: number;
  /** The members of the group the incident leads (a policy's `group:`), the incident first. */
  group?: Incident[];
  log: Logger;
  now(): number;
}

export interface UpdateContext {
  incident: Incident;
  update: IncidentUpdate;
  /** Free text for notes (e.g. a delivery that failed). */
  text?: string;
  /** Where the change came from (`slack`, `pagerduty`, `api`, or a channel's name for its notes). */
  origin?: string;
  /** The members of the group the incident leads (a policy's `group:`), the incident first. */
  group?: Incident[];
  log: Logger;
  now(): number;
}

/** One way of reaching people. */
export interface Channel {
  readonly name: string;
  /** Set when this channel only writes to the log (not configured), saying why; start-up reports it. */
  readonly logOnly?: string;
  /** Runs one escalation step. */
  step(ctx: StepContext): Promise<DeliveryResult>;
  /** Reflects a change of an incident; undefined when this channel did not take part in it. */
  update(ctx: UpdateContext): Promise<DeliveryResult | undefined>;
}

export interface RetryPolicy {
  attempts: number;
  /** Back-off before the second attempt; doubles each time up to maxMs. */
  baseMs: number;
  maxMs: number;
  /** The longest Retry-After honoured as asked (a longer one is cut to this). */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 1000, maxMs: 30_000, maxRetryAfterMs: 300_000 };

/**
 * Calls a delivery until it succeeds, fails for good, or runs out of attempts; waits with exponential back-off, or
 * as long as the channel asked (Retry-After). A thrown error counts as a failure worth retrying. The error that comes
 * back (to the audit trail, the log, the incident's channels) shows no credentials of a URL.
 */
export async function withRetries(
  call: () => Promise<DeliveryResult>,
  policy: RetryPolicy = DEFAULT_RETRY,
  sleep: (ms: number) => Promise<void> = realSleep,
): Promise<DeliveryResult & { attempts: number }> {
  let last: DeliveryResult = { ok: false, retry: true, error: 'not attempted' };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    try {
      last = await call();
    } catch (e) {
      last = { ok: false, retry: true, error: e instanceof Error ? e.message : String(e) };
    }
    if (last.ok || !last.retry || last.later !== undefined || attempt === policy.attempts)
      return { ...redactError(last), attempts: attempt };
    const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
    const asked =
      last.retryAfterMs !== undefined
        ? Math.min(Math.max(last.retryAfterMs, 0), policy.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs!)
        : undefined;
    await sleep(asked ?? backoff);
  }
  return { ...redactError(last), attempts: policy.attempts };
}

function redactError(result: DeliveryResult): DeliveryResult {
  return result.ok ? result : { ...result, error: redactUrls(result.error) };
}

/**
 * How an HTTP answer of a channel's API classifies: 2xx delivered; 429 and 5xx worth retrying (honouring
 * Retry-After, in seconds or as a date); any other status is final.
 */
export function classifyHttp(
  status: number,
  retryAfter: string | null | undefined,
  now: number = Date.now(),
): { ok: boolean; retry: boolean; retryAfterMs?: number } {
  if (status >= 200 && status < 300) return { ok: true, retry: false };
  const retry = status === 429 || status >= 500 || status === 408;
  let retryAfterMs: number | undefined;
  if (retry && retryAfter) {
    const seconds = Number(retryAfter);
    retryAfterMs = Number.isFinite(seconds) ? seconds * 1000 : Math.max(0, Date.parse(retryAfter) - now) || undefined;
  }
  return { ok: false, retry, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}
