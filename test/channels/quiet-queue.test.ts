import { describe, expect, it } from 'vitest';
import { QuietQueue } from '../../src/escalation/slack/interactivity.js';
import { sleep } from '../support/time.js';

describe('work deferred until a burst of clicks is answered', () => {
  it('runs once arrivals pause, in arrival order', async () => {
    const ran: number[] = [];
    const q = new QuietQueue<number>((n) => ran.push(n), 20, 1000);
    q.add(1);
    await sleep(5);
    q.add(2);
    await sleep(5);
    expect(ran).toEqual([]);
    await sleep(40);
    expect(ran).toEqual([1, 2]);
  });

  it('does not wait longer than its maximum while arrivals go on', async () => {
    const ran: number[] = [];
    const q = new QuietQueue<number>((n) => ran.push(n), 20, 60);
    const started = Date.now();
    for (let i = 0; i < 10 && ran.length === 0; i++) {
      q.add(i);
      await sleep(10);
    }
    expect(ran.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(150);
  });
});
