/**
 * A refresh between two grid points reads again the newest points: when they are the ones kept, the weights stay the
 * same object (no copy of the SLO's values a refresh); when one changed or a step was added, new weights hold them and
 * the old ones are left as they were (a budget draws its burn-down from the weights of its own moment).
 */
import { describe, expect, it } from 'vitest';
import { weightsShape } from '../../src/budget/budget.js';
import { stepWeights, withFresh } from '../../src/budget/weights.js';

const MIN = 60_000;
const DAY = 1440 * MIN;
const stepMs = 5 * MIN;
const start = Date.parse('2026-11-01T00:00:00Z');
const bad = [1.1, 0.3, Number.NaN, 0.7];
const total = [100.3, 99.7, Number.NaN, 101.9];

describe('withFresh', () => {
  for (const Values of [Float32Array, Float64Array]) {
    const kept = () => stepWeights(weightsShape(start, stepMs, 30 * DAY), bad, total, Values);

    it(`keeps the same weights when the points read again are the kept ones (${Values.name})`, () => {
      const w = kept();
      // The last two points again, NaN included, as Prometheus answers them (doubles, stored as ${Values.name}).
      expect(withFresh(w, { from: w.stepsFrom + 2, bad: bad.slice(2), total: total.slice(2) })).toBe(w);
    });

    it(`makes new weights when a point read again changed or a step was added (${Values.name})`, () => {
      const w = kept();
      const before = Array.from(w.values);
      const changed = withFresh(w, { from: w.stepsFrom + 3, bad: [0.8], total: [101.9] });
      expect(changed).not.toBe(w);
      expect(changed.values[6]).toBeCloseTo(0.8, 5);
      const filled = withFresh(w, { from: w.stepsFrom + 2, bad: [0.2, 0.7], total: [98, 101.9] });
      expect(filled).not.toBe(w);
      expect(filled.values[4]).toBeCloseTo(0.2, 5);
      const added = withFresh(w, { from: w.stepsFrom + 3, bad: [0.7, 0.5], total: [101.9, 100] });
      expect(added.steps).toBe(w.steps + 1);
      expect(Array.from(w.values)).toEqual(before);
    });
  }
});
