/**
 * Answers that a stand-in withholds: the request arrived and was acted on (the message posted, the event taken), but
 * its answer is not sent until released — the state a client is in when it dies in the middle of a delivery, or
 * when the service is slow enough for the client to time out.
 */
export interface HeldAnswer {
  /** What was asked (a Slack method, a PagerDuty event action). */
  what: string;
  /** The client's side of the connection: which process sent it (see the chaos run's pidOfConnection). */
  remotePort: number;
  at: number;
  /** Sends the answer after all. */
  release(): void;
  /** Closes the connection without an answer. */
  drop(): void;
}

export class Holds<T> {
  private readonly rules: Array<{ match: (what: string, detail: T) => boolean; left: number }> = [];
  private readonly waiters: Array<(held: HeldAnswer) => void> = [];
  /** Every answer held so far, released or not. */
  readonly held: HeldAnswer[] = [];

  /** Holds the answers of the next `times` requests that match. */
  arm(match: (what: string, detail: T) => boolean, times = 1): void {
    this.rules.push({ match, left: times });
  }

  /** Whether the answer to this request is to be held (uses up one of an armed rule's times). */
  take(what: string, detail: T): boolean {
    const rule = this.rules.find((r) => r.left > 0 && r.match(what, detail));
    if (!rule) return false;
    rule.left--;
    return true;
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
