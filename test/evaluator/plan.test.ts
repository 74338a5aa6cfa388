import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ratioPlan } from '../../src/evaluator/plan.js';
import { loadRules } from '../../src/rules/index.js';
import type { RatioSlo } from '../../src/rules/model.js';
import { ROOT } from '../support/cli.js';

describe('the plan of a ratio SLO', () => {
  it('is made once per SLO object, and a changed SLO (a reload makes a new object) gets its own', async () => {
    const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/burn-rate')]);
    const slo = loaded.config!.slos.find((s): s is RatioSlo => s.kind === 'ratio')!;
    const plan = ratioPlan(slo);
    expect(ratioPlan(slo)).toBe(plan);
    // The same SLO loaded again plans the same; its plan is a new object, made from the new SLO.
    const copy = { ...slo };
    expect(ratioPlan(copy)).not.toBe(plan);
    expect(ratioPlan(copy)).toEqual(plan);
    // A reload that changes the tiers changes the plan: nothing is taken from the earlier form.
    const changed: RatioSlo = { ...slo, tiers: slo.tiers.filter((t) => t.longMs <= 6 * 3600_000) };
    const replanned = ratioPlan(changed);
    expect(replanned.longestMs).toBe(Math.max(...changed.tiers.map((t) => t.longMs)));
    expect(replanned.longestMs).toBeLessThan(plan.longestMs);
    expect(ratioPlan(slo)).toBe(plan);
  });
});
