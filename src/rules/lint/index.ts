export { LINT_RULES, type LintOptions, type LintRule, type LintWarning, disabledRules, formatWarning, lint } from './lint.js';
