export { errorRatioLimit } from './burn-rate.js';
export { type CheckOptions, checkOptionsFromEnv } from './check.js';
export { formatDuration, parseDuration } from './duration.js';
export { UsageError, loadRules } from './load.js';
export * from './model.js';
export { type Problem, formatGithubProblem, formatProblem, sortProblems } from './problem.js';
export { OWNER_PLACEHOLDER, jsonSchema } from './schema.js';
export { LINT_RULES, formatWarning, lint } from './lint/index.js';
