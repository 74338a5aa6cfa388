export { type PrometheusRule, type PrometheusRulesExport, type RuleGroup, RECORDED, alertNames, prometheusRules } from './prometheus-rules.js';
export { exportOpenSlo } from './openslo-export.js';
export { importOpenSlo } from './openslo-import.js';
export { importSloth } from './sloth-import.js';
export { type ImportResult, OWNER_PLACEHOLDER, renderDocs } from './sloe-docs.js';
