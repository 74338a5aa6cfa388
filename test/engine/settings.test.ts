import { describe, expect, it } from 'vitest';
import { engineSettings } from '../../src/engine/settings.js';

describe('engine settings from the environment', () => {
  it.each([
    ['nothing set keeps every default', {}, { prefix: 'sloe', port: 3000, tuning: {}, drainMs: 25_000 }],
    [
      'positive numbers are taken',
      {
        SLOE_REDIS_PREFIX: 'blue',
        SLOE_PORT: '8080',
        SLOE_LOCK_DURATION_MS: '5000',
        SLOE_STALLED_INTERVAL_MS: '2000',
        SLOE_EVALUATE_CONCURRENCY: '4',
        SLOE_DELIVER_CONCURRENCY: '8',
        SLOE_CLAIM_TTL_MS: '700',
        SLOE_SCHEDULER_CHECK_MS: '1500',
        SLOE_DRAIN_TIMEOUT: '7.5',
      },
      {
        prefix: 'blue',
        port: 8080,
        tuning: { lockDurationMs: 5000, stalledIntervalMs: 2000, evaluateConcurrency: 4, deliverConcurrency: 8 },
        claimTtlMs: 700,
        schedulerCheckMs: 1500,
        drainMs: 7500,
      },
    ],
    [
      'zero, negative and non-numbers keep the defaults',
      {
        SLOE_LOCK_DURATION_MS: '0',
        SLOE_EVALUATE_CONCURRENCY: '-2',
        SLOE_CLAIM_TTL_MS: 'soon',
        SLOE_SCHEDULER_CHECK_MS: '',
        SLOE_DRAIN_TIMEOUT: '0',
      },
      { prefix: 'sloe', port: 3000, tuning: {}, drainMs: 25_000 },
    ],
  ])('%s', (_name, env, expected) => {
    expect(engineSettings(env)).toEqual(expected);
  });
});
