export { type CheckOptions, checkOptionsFromEnv } from './check.js';
export { formatDuration, parseDuration } from './duration.js';
export { UsageError, loadRules } from './load.js';
export * from './model.js';
export { type Problem, formatGithubProblem, formatProblem } from './problem.js';
export { jsonSchema } from './schema.js';
