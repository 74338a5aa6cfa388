/**
 * Multiwindow, multi-burn-rate alerting as data and the few formulas around it: the default tiers as a table (like
 * Sloth's `windows/google-30d.yaml`), and the burn rate, the factor a tier fires above and its limits. The checks
 * (check/slos.ts), the Prometheus rules export and the budget compute with these; so should everything else that
 * computes a burn rate.
 */
import type { Severity } from './model.js';

/** One row of a tier table: the share of the error budget spent within `longMs` that pages (or tickets). */
export interface BurnRateTierSpec {
  severity: Severity;
  /** Share of the whole window's error budget (0.02 = 2%). */
  budget: number;
  longMs: number;
  shortMs: number;
}

/**
 * The Google SRE Workbook's multiwindow, multi-burn-rate tiers (chapter 5, table 5-8). Over a 30-day window their
 * factors are 14.4, 6 and 1 (`burnFactor`).
 */
export const WORKBOOK_TIERS: readonly BurnRateTierSpec[] = [
  { severity: 'page', budget: 0.02, longMs: 3600_000, shortMs: 5 * 60_000 },
  { severity: 'page', budget: 0.05, longMs: 6 * 3600_000, shortMs: 30 * 60_000 },
  { severity: 'ticket', budget: 0.1, longMs: 3 * 24 * 3600_000, shortMs: 6 * 3600_000 },
];

/** The short window of a tier that names only its long one: a twelfth, as in the Workbook's tiers. */
export function defaultShortMs(longMs: number): number {
  return longMs / 12;
}

/** The burn rate a tier fires above: spending `budget` of a `windowMs` budget within `longMs`. */
export function burnFactor(budget: number, windowMs: number, longMs: number): number {
  return (budget * windowMs) / longMs;
}

/** The highest burn rate an objective allows (every event bad): a factor above it can never be reached. */
export function maxBurnRate(objective: number): number {
  return 1 / errorBudget(objective);
}

/** The bad share an objective allows: 1 − objective. */
export function errorBudget(objective: number): number {
  return 1 - objective;
}

/** Error ratio ÷ error budget: 1 spends exactly the budget over the SLO window. */
export function burnRate(errorRatio: number, objective: number): number {
  return errorRatio / errorBudget(objective);
}

/** The error ratio above which a tier's burn rate exceeds its factor (what a Prometheus alert compares against). */
export function errorRatioLimit(factor: number, objective: number): number {
  return factor * errorBudget(objective);
}
