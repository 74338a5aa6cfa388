/**
 * Inhibition: while a dependency of an SLO (its `dependsOn`, or an SLO of its service whose `inhibits` names it)
 * has a firing page, the SLO's own pages are held, and released if they still fire `inhibitFor` after the dependency
 * resolved. Pure, as holds on the same mechanism as silences: `run` asks it of the pages open in Redis, `backtest` of
 * the pages its first pass laid on the timeline.
 */
import { formatDuration } from './duration.js';
import { DEFAULT_INHIBIT_FOR_MS, type Slo } from './model.js';
import { type Hold, type Holds, NO_HOLDS } from './silence.js';

/** A page of an SLO: from when its incident paged until it resolved (null: it still does). */
export interface PageInterval {
  sloId: string;
  service: string;
  start: number;
  end: number | null;
  /** Its incident (`run`), for the note in its Slack thread. */
  incidentId?: string;
}

/** A page held by a dependency that still fires is looked at again this often (or inhibitFor, when shorter). */
export const INHIBIT_RECHECK_MS = 60_000;

/** The holds that the pages of `pages` put on the SLOs depending on them; only page severity is held. */
export function inhibitor(slos: readonly Slo[], pages: readonly PageInterval[]): Holds {
  const held = new Map(slos.filter((s) => s.inhibitedBy?.length).map((s) => [s.id, s]));
  if (held.size === 0 || pages.length === 0) return NO_HOLDS;
  return (target, at) => {
    if (target.severity !== 'page') return undefined;
    const slo = held.get(`${target.service}/${target.slo}`);
    if (!slo) return undefined;
    const forMs = slo.inhibitForMs ?? DEFAULT_INHIBIT_FOR_MS;
    let hold: Hold | undefined;
    for (const dependency of slo.inhibitedBy!) {
      const matches = (p: PageInterval) =>
        p.sloId !== slo.id &&
        (dependency.ref.includes('/') ? p.sloId === dependency.ref : p.service === dependency.ref);
      for (const p of pages) {
        if (p.start > at || !matches(p)) continue;
        const until = p.end === null ? at + (Math.min(forMs, INHIBIT_RECHECK_MS) || INHIBIT_RECHECK_MS) : p.end + forMs;
        if (until <= at || (hold && until <= hold.until)) continue;
        const why =
          dependency.via === 'inhibits' ? `${p.sloId} inhibits ${slo.name}` : `${slo.id} depends on ${dependency.ref}`;
        hold = {
          by: p.sloId,
          reason:
            p.end === null
              ? `its page is firing (${why}); released if still firing ${formatDuration(forMs)} after it resolves`
              : `its page resolved at ${new Date(p.end).toISOString()} (${why}); released ${formatDuration(forMs)} later if still firing`,
          until,
          cause: { sloId: p.sloId, ...(p.incidentId ? { incidentId: p.incidentId } : {}), firing: p.end === null },
        };
      }
    }
    return hold;
  };
}

/** Silences first, then dependencies: the first hold that applies. */
export function combineHolds(first: Holds, second: Holds): Holds {
  if (first === NO_HOLDS) return second;
  if (second === NO_HOLDS) return first;
  return (target, at) => first(target, at) ?? second(target, at);
}

/** Why a hold holds, for audit trails, logs and output: `silenced by …: reason` or `held: caused by …? reason`. */
export function holdText(hold: Hold): string {
  return hold.cause ? `held: caused by ${hold.by}? ${hold.reason}` : `silenced by ${hold.by}: ${hold.reason}`;
}
