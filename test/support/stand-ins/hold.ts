/**
 * Requests a stand-in holds, in one of two ways. `answer`: the request is acted on (the message posted, the event
 * taken) but its answer withheld — the client never learns it got through. `request`: nothing is done until it is
 * released, and a dropped request never happened — it was lost on the way. Either is what a client sees when it
 * dies in the middle of a delivery, or when the service is slow enough for the client to time out.
 */
export type HoldMode = 'answer' | 'request';

export interface HeldAnswer {
  /** What was asked (a Slack method, a PagerDuty event action). */
  what: string;
  /** The client's side of the connection: which process sent it (see the chaos run's pidOfConnection). */
  remotePort: number;
  at: number;
  mode: HoldMode;
  /** Carries the request out (mode `request`) and sends its answer after all. */
  release(): void;
  /** Closes the connection without an answer (mode `request`: the request is not carried out). */
  drop(): void;
}

export class Holds<T> {
  private readonly rules: Array<{ match: (what: string, detail: T) => boolean; left: number; mode: HoldMode }> = [];
  private readonly waiters: Array<(held: HeldAnswer) => void> = [];
  /** Every answer held so far, released or not. */
  readonly held: HeldAnswer[] = [];

  /** Holds the next `times` requests that match. */
  arm(match: (what: string, detail: T) => boolean, times = 1, mode: HoldMode = 'answer'): void {
    this.rules.push({ match, left: times, mode });
  }

  /** How this request is to be held, if it is (uses up one of an armed rule's times). */
  take(what: string, detail: T): HoldMode | undefined {
    const rule = this.rules.find((r) => r.left > 0 && r.match(what, detail));
    if (!rule) return undefined;
    rule.left--;
    return rule.mode;
  }

  add(held: HeldAnswer): void {
    this.held.push(held);
    for (const waiter of this.waiters.splice(0)) waiter(held);
  }

  /** The next answer held from now on. */
  next(timeoutMs: number): Promise<HeldAnswer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer was held within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((held) => {
        clearTimeout(timer);
        resolve(held);
      });
    });
  }
}
