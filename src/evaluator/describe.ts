/** How an SLO's target and alert condition read to people. */
import type { Slo } from '../rules/model.js';
import { fmt } from './frame.js';

/** `< 3.5`, or `99.9%` for a ratio SLO; null when the SLO has no objective. */
export function objectiveText(slo: Slo): string | null {
  if (slo.kind === 'ratio') return `${fmt(slo.objective * 100)}%`;
  return slo.objective?.text ?? null;
}

/** The breach condition: `> 5`, `drop > 5`, or the burn-rate tiers of a ratio SLO. */
export function conditionText(slo: Slo): string {
  return slo.kind === 'ratio' ? `burn rate (${slo.tiers.length} tiers)` : slo.when.text;
}
