export { LINT_RULES, formatWarning, lint } from './lint.js';
