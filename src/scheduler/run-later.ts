/**
 * Thrown by a job's processor to have the job run again after `waitMs`, without counting a failed attempt: the
 * job cannot be done yet (another worker's delivery claim has not lapsed), and nothing went wrong.
 */
export class RunLater extends Error {
  constructor(
    readonly waitMs: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'RunLater';
  }
}
