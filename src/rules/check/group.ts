/**
 * Checks a policy's `group:` beyond its shape (the schema checks that) and builds the model's grouping: `by` names
 * each field once, `wait` defaults to Alertmanager's group_wait of 30s.
 */
import { parseDuration } from '../duration.js';
import type { PolicyGroup } from '../model.js';
import type { GroupDoc } from '../schema.js';
import { GROUP_BY } from '../schema-values.js';
import type { Path } from '../source.js';

/** How long after a group's first incident others join it, unless `wait` says otherwise. */
export const DEFAULT_GROUP_WAIT_MS = 30_000;

/**
 * The grouping of a policy from its raw `group:` (undefined when it has none) and what the schema made of it (null
 * when it does not pass); null when it has a problem, each reported through `problem` at its path.
 */
export function checkGroup(
  raw: unknown,
  parsed: GroupDoc | undefined | null,
  problem: (path: Path, message: string) => void,
): PolicyGroup | undefined | null {
  if (raw === undefined) return undefined;
  // Shape problems (unknown keys, a bad duration) are reported by the schema check.
  if (!parsed) return null;
  const by = parsed.by ?? [...GROUP_BY];
  let ok = true;
  by.forEach((field, i) => {
    if (by.indexOf(field) !== i) {
      problem(['group', 'by', i], `group.by names ${field} twice`);
      ok = false;
    }
  });
  if (!ok) return null;
  const wait = parsed.wait;
  const waitMs = wait === undefined ? DEFAULT_GROUP_WAIT_MS : (parseDuration(wait) ?? DEFAULT_GROUP_WAIT_MS);
  // In the order of GROUP_BY, so that [slo, service] and [service, slo] make the same groups.
  return { by: GROUP_BY.filter((f) => by.includes(f)), waitMs };
}
