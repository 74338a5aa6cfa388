export { HIGH_CARDINALITY_LABELS, type CheckOptions, type EnvProblem, checkOptionsFromEnv } from './check.js';
export { type Condition, holds, parseCondition } from './condition.js';
export { formatDuration, parseDuration } from './duration.js';
export { expandReferences } from './env.js';
export { type LoadResult, UsageError, findFiles, loadRules } from './load.js';
export * from './model.js';
export { type Problem, formatGithubProblem, formatProblem, sortProblems } from './problem.js';
export { OWNER_PLACEHOLDER, jsonSchema } from './schema.js';
export { LINT_RULES, type LintRule, type LintWarning, formatWarning, lint } from './lint/index.js';
