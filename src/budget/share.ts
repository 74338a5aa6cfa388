/**
 * Error budgets shared by the replicas of one deployment. The SLOs are cut into groups (GROUP_SIZE, in the
 * configuration's order); each group is computed by the one replica holding its lease, which publishes what it
 * computed, and the others read that. A replica holds a fair share of the groups (all of them divided by the
 * replicas refreshing budgets), keeps its leases from one refresh to the next (its kept weights stay useful: a
 * refresh reads only the newest points), and gives up leases beyond its share when replicas join. A replica that
 * stops refreshing loses its leases after `leaseMs`, and the others take its groups over. Replicas count themselves
 * in when they start, so that replicas started together split the first refresh; one done with its share then takes
 * the groups no replica holds (a replica counted in that never refreshes does not leave its share undone).
 *
 * What is published is each budget's figures, not its weights: a burn-down line of another replica's budget is
 * drawn from a read of that SLO's window when a page shows it (BudgetKeeper.drawable).
 */
import { createHash } from 'node:crypto';
import type { Slo } from '../rules/model.js';
import type { Budget, BurnDown } from './budget.js';

/** Where the replicas meet: implemented on Redis by the engine (engine/budget-share.ts). */
export interface BudgetShare {
  /**
   * Of `groups`, the ones this replica computes now: those whose lease it holds or takes, up to its share (taken in
   * the order given). Leases it holds beyond its share are given up; those it keeps or takes last `leaseMs`. Each claim
   * counts this replica among those of `options.config` sharing the work, for `leaseMs`; a claim of no groups only
   * does that. The share is the groups ÷ the replicas counted; when this replica's own count was gone (Redis
   * restarted empty), ÷ `options.floor` if more (the replicas it counted last time), and the claim says the count was
   * `lost`. A `greedy` claim takes every group no replica holds and none published budgets for (never computed: one
   * given up, or left by a replica that stopped, is for the share claims), whatever the share, and gives up none; it
   * takes nothing while fewer replicas are counted than its `floor`. Returns the groups held and the replicas counted.
   */
  claim(
    groups: readonly string[],
    leaseMs: number,
    options: { config: string; floor?: number; greedy?: boolean },
  ): Promise<{ held: boolean[]; replicas: number; lost: boolean }>;
  /** Holds the leases of `groups` this replica has for another `leaseMs`: a first refresh may outlast a lease. */
  renew(groups: readonly string[], leaseMs: number, config: string): Promise<void>;
  /** Publishes the entries of one group (`encodeEntries`), readable for `keepMs`. */
  publish(group: string, entries: string, keepMs: number): Promise<void>;
  /** The entries last published for each group, undefined where there are none. */
  read(groups: readonly string[]): Promise<(string | undefined)[]>;
}

/** SLOs a lease covers: 500 leases at 100,000 SLOs. */
export const GROUP_SIZE = 200;

export interface BudgetGroup {
  /** Names the group's SLOs (their ids): a reload that changes an SLO's queries or objective keeps its group. */
  key: string;
  slos: readonly Slo[];
}

export interface BudgetGroups {
  groups: BudgetGroup[];
  /** Names the configuration's groups: replicas count each other only when they cut the SLOs alike. */
  config: string;
}

/** The groups of a configuration's SLOs: made once per list of SLOs (a reload makes a new list) and group size. */
const groupsOf = new WeakMap<readonly Slo[], Map<number, BudgetGroups>>();

const digest = (hash: ReturnType<typeof createHash>) => hash.digest('base64url').slice(0, 22);

export function budgetGroups(slos: readonly Slo[], size = GROUP_SIZE): BudgetGroups {
  let bySize = groupsOf.get(slos);
  if (!bySize) groupsOf.set(slos, (bySize = new Map()));
  let made = bySize.get(size);
  if (!made) {
    const groups: BudgetGroup[] = [];
    const config = createHash('sha256');
    for (let i = 0; i < slos.length; i += size) {
      const part = slos.slice(i, i + size);
      const hash = createHash('sha256');
      for (const slo of part) hash.update(`${slo.id}\n`);
      const key = digest(hash);
      config.update(`${key}\n`);
      groups.push({ key, slos: part });
    }
    made = { groups, config: digest(config) };
    bySize.set(size, made);
  }
  return made;
}

/** A short hash of what an SLO's budget depends on (`definition`), published with its budget. */
const definitions = new WeakMap<Slo, string>();

export function definitionOf(slo: Slo, definition: (slo: Slo) => string): string {
  let d = definitions.get(slo);
  if (d === undefined) {
    d = createHash('sha256').update(definition(slo)).digest('base64url').slice(0, 12);
    definitions.set(slo, d);
  }
  return d;
}

/**
 * An entry as published: a budget's figures (no burn-down) or why there is none, and the definition it is of
 * (definitionOf): a replica whose SLO differs there does not show it.
 */
type Published = [id: string, budget: Omit<Budget, 'burnDown'> | null, error: string | null, definition: string];

/** JSON has no NaN or infinities; budgets have both (no data, nothing burning). */
const NON_FINITE = new Map<string, number>([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
]);

export function encodeEntries(
  entries: readonly [string, { budget?: Budget; error?: string }, definition: string][],
): string {
  const out: Published[] = entries.map(([id, e, definition]) => {
    if (!e.budget) return [id, null, e.error ?? 'no budget', definition];
    const { burnDown: _, ...figures } = e.budget;
    return [id, figures, null, definition];
  });
  return JSON.stringify(out, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/**
 * Entries published by another replica, each with the definition it is of. A budget's burn-down is `drawn(id, at)`:
 * what a page read for that budget (its SLO's at its time `at`), or none yet.
 */
export function decodeEntries(
  text: string,
  drawn: (id: string, at: number) => BurnDown,
): [string, { budget: Budget; error?: undefined } | { budget?: undefined; error: string }, string][] {
  // A budget's figures have names; an entry's id, error and definition sit at positions 0, 2, 3 and stay as they are.
  const parsed = JSON.parse(text, (k, v) =>
    typeof v === 'string' && !/^\d+$/.test(k) && NON_FINITE.has(v) ? NON_FINITE.get(v) : v,
  );
  return (parsed as Published[]).map(([id, figures, error, definition]) =>
    figures
      ? [id, { budget: { ...figures, burnDown: () => drawn(id, figures.at) } }, definition]
      : [id, { error: error ?? 'no budget' }, definition],
  );
}
