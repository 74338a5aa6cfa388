export { errorRatioLimit } from './burn-rate.js';
export type { CheckOptions } from './check/context.js';
export { checkOptionsFromEnv } from './check/run.js';
export { formatDuration, parseDuration } from './duration.js';
export { UsageError, loadRules } from './load.js';
export * from './model.js';
export { type Problem, formatGithubProblem, formatProblem, sortProblems } from './problem.js';
export { OWNER_PLACEHOLDER } from './schema-values.js';
export { LINT_RULES, formatWarning, lint } from './lint/index.js';
