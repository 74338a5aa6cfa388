/**
 * `check()`: the checks of check/run.ts with the zod schemas and the checks of silences and schedules loaded, for
 * callers that have the documents in hand.
 * See check/run.ts for how the checks are organised.
 */
import * as schemas from './schema.js';
import { schemaProblems } from './schema-issues.js';
import type { CheckOptions, Zod } from './check/context.js';
import { type CheckResult, checkDocuments, knownValid } from './check/run.js';
import * as timed from './check/timed.js';
import type { SourceDoc } from './source-doc.js';

export { type CheckOptions, type EnvProblem, HIGH_CARDINALITY_LABELS, type SilenceWarning } from './check/context.js';
export { type CheckResult, checkOptionsFromEnv } from './check/run.js';

/** The schemas and the reading of their issues, for the documents that are not known to be valid. */
export const ZOD: Zod = { ...schemas, schemaProblems };

/** Checks all documents together and builds the configuration. */
export function check(docs: SourceDoc[], options: CheckOptions = {}): CheckResult {
  return checkDocuments(docs, knownValid(docs), options, { zod: ZOD, timed });
}
