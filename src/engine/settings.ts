/**
 * The engine's settings from the environment: SLOE_REDIS_PREFIX, SLOE_PORT, worker tuning, claim and check periods,
 * and the drain timeout.
 */
import type { WorkerTuning } from '../scheduler/queues.js';

export interface EngineSettings {
  /** The prefix of every Redis key and queue (SLOE_REDIS_PREFIX, default sloe). */
  prefix: string;
  /** The HTTP port (SLOE_PORT, default 3000). */
  port: number;
  /** Worker tuning (SLOE_LOCK_DURATION_MS, SLOE_STALLED_INTERVAL_MS, SLOE_*_CONCURRENCY); unset ones keep defaults. */
  tuning: Partial<WorkerTuning>;
  /** How long a delivery claim lasts (SLOE_CLAIM_TTL_MS). */
  claimTtlMs?: number;
  /** How often the job schedulers are checked (SLOE_SCHEDULER_CHECK_MS). */
  schedulerCheckMs?: number;
  /** How long a stop waits for running jobs before it leaves them to another replica (SLOE_DRAIN_TIMEOUT, seconds). */
  drainMs: number;
}

/** SLOE_DRAIN_TIMEOUT's default: within Kubernetes' default grace period of 30 s, with time to close after it. */
export const DEFAULT_DRAIN_MS = 25_000;

const positive = (v: string | undefined): number | undefined => (v && Number(v) > 0 ? Number(v) : undefined);

/** Reads the settings; a value that is not a positive number keeps the default. */
export function engineSettings(env: NodeJS.ProcessEnv): EngineSettings {
  const tuning: Partial<WorkerTuning> = {};
  const lock = positive(env.SLOE_LOCK_DURATION_MS);
  const stalled = positive(env.SLOE_STALLED_INTERVAL_MS);
  const evaluate = positive(env.SLOE_EVALUATE_CONCURRENCY);
  const deliver = positive(env.SLOE_DELIVER_CONCURRENCY);
  if (lock) tuning.lockDurationMs = lock;
  if (stalled) tuning.stalledIntervalMs = stalled;
  if (evaluate) tuning.evaluateConcurrency = evaluate;
  if (deliver) tuning.deliverConcurrency = deliver;
  const claimTtlMs = positive(env.SLOE_CLAIM_TTL_MS);
  const schedulerCheckMs = positive(env.SLOE_SCHEDULER_CHECK_MS);
  const drainS = positive(env.SLOE_DRAIN_TIMEOUT);
  return {
    prefix: env.SLOE_REDIS_PREFIX || 'sloe',
    port: Number(env.SLOE_PORT || 3000),
    tuning,
    ...(claimTtlMs ? { claimTtlMs } : {}),
    ...(schedulerCheckMs ? { schedulerCheckMs } : {}),
    drainMs: drainS ? drainS * 1000 : DEFAULT_DRAIN_MS,
  };
}
