/**
 * The checks of the documents that hold times, Silence and OnCallSchedule: they read dates and time zones with luxon.
 * loadRules loads them (and luxon) only when such a document is there; `check()` has them at hand.
 */
export { checkSchedule } from './schedules.js';
export { checkSilence, silenceWarnings } from './silences.js';
