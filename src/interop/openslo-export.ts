/**
 * Writes sloe SLOs as OpenSLO v1: a Service per service, one Prometheus DataSource, an SLO with its SLI inline per SLO,
 * and for each burn-rate tier an AlertPolicy with its AlertCondition, notifying an AlertNotificationTarget that
 * stands for the SLO's escalation policy. What OpenSLO has no field for travels as `sloe.dev/` annotations.
 */
import { Document } from 'yaml';
import { type Config, DEFAULTS, type RatioSlo, type Slo, type ThresholdSlo, formatDuration } from '../rules/index.js';
import { num, percent } from './names.js';
import { ANNOTATIONS as A, shorthand } from './openslo.js';
import { fillWindow } from '../rules/window.js';

const API = 'openslo/v1';
const DATA_SOURCE = 'prometheus';
const OPS = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' } as const;

type Obj = Record<string, unknown>;

/** The configuration's SLOs as OpenSLO v1 documents, one YAML stream. */
export function exportOpenSlo(config: Config): string {
  const docs: Obj[] = [
    {
      apiVersion: API,
      kind: 'DataSource',
      metadata: { name: DATA_SOURCE, displayName: 'Prometheus' },
      spec: {
        description: 'The Prometheus sloe queries (PROMETHEUS_URL)',
        type: 'Prometheus',
        connectionDetails: { urlFrom: 'PROMETHEUS_URL' },
      },
    },
  ];
  for (const service of config.services) {
    const slos = config.slos.filter((s) => s.service === service.name);
    const dashboards = [...new Map(slos.map((s) => [s.dashboard.id, s.dashboard])).values()].map((d) => ({
      id: d.id,
      title: d.title,
      ...(d.url !== undefined ? { url: d.url } : {}),
      owner: d.owner,
    }));
    docs.push({
      apiVersion: API,
      kind: 'Service',
      metadata: {
        name: service.name,
        annotations: { [A.owner]: service.owner, [A.dashboards]: JSON.stringify(dashboards) },
      },
      spec: { description: `${service.name}, owned by ${service.owner}` },
    });
  }
  for (const name of [...new Set(config.slos.map((s) => s.escalation))]) {
    docs.push({
      apiVersion: API,
      kind: 'AlertNotificationTarget',
      metadata: { name, annotations: { [A.escalationPolicy]: name } },
      spec: { target: 'sloe', description: `the sloe escalation policy ${name}` },
    });
  }
  for (const slo of config.slos) docs.push(...sloDocs(slo, config.slos));
  return docs.map((d) => new Document(d).toString({ lineWidth: 0 })).join('---\n');
}

function source(query: string): Obj {
  return { metricSource: { metricSourceRef: DATA_SOURCE, type: 'Prometheus', spec: { query } } };
}

function sloDocs(slo: Slo, all: readonly Slo[]): Obj[] {
  const id = `${slo.service}-${slo.name}`;
  const annotations: Record<string, string> = {
    [A.name]: slo.name,
    [A.signal]: slo.signal,
    [A.dashboard]: slo.dashboard.id,
    [A.escalation]: slo.escalation,
  };
  const put = (key: string, value: string | undefined) => {
    if (value !== undefined) annotations[key] = value;
  };
  put(A.runbook, slo.runbook);
  if (slo.intervalMs !== DEFAULTS.intervalMs) put(A.interval, formatDuration(slo.intervalMs));
  if (slo.noData !== 'alert') put(A.noData, slo.noData);
  if (slo.noDataForMs !== DEFAULTS.noDataForMs) put(A.noDataFor, formatDuration(slo.noDataForMs));
  if (slo.maxSeries !== DEFAULTS.maxSeries) put(A.maxSeries, String(slo.maxSeries));
  if (slo.forMs !== 0) put(A.for, formatDuration(slo.forMs));
  if (slo.resolveAfterMs !== DEFAULTS.resolveAfterMs) put(A.resolveAfter, formatDuration(slo.resolveAfterMs));
  // Dependencies as the SLO's own: what it waits for (dependsOn, its service's included) and the SLOs of its
  // service whose pages it holds (inhibits) — the same model as written at service level.
  const dependsOn = (slo.inhibitedBy ?? []).filter((i) => i.via === 'dependsOn').map((i) => i.ref);
  const inhibits = all
    .filter((o) => o.inhibitedBy?.some((i) => i.via === 'inhibits' && i.ref === slo.id))
    .map((o) => o.name);
  if (dependsOn.length) put(A.dependsOn, JSON.stringify(dependsOn));
  if (inhibits.length) put(A.inhibits, JSON.stringify(inhibits));
  if (slo.inhibitForMs !== undefined) put(A.inhibitFor, formatDuration(slo.inhibitForMs));
  if (slo.compare)
    put(
      A.compare,
      JSON.stringify({
        label: slo.compare.label,
        baseline: slo.compare.baseline,
        when: slo.compare.when.text,
        minEvents: slo.compare.minEvents,
      }),
    );

  const metadata = {
    name: id,
    displayName: `${slo.service} ${slo.name}`,
    ...(Object.keys(slo.labels).length ? { labels: slo.labels } : {}),
    annotations,
  };
  const spec: Obj = {
    ...(slo.description !== undefined ? { description: slo.description } : {}),
    service: slo.service,
  };
  const docs: Obj[] = [];
  if (slo.kind === 'ratio') {
    ratioSpec(slo, spec, annotations, docs);
  } else {
    thresholdSpec(slo, spec, annotations);
  }
  return [{ apiVersion: API, kind: 'SLO', metadata, spec }, ...docs];
}

function ratioSpec(slo: RatioSlo, spec: Obj, annotations: Record<string, string>, docs: Obj[]): void {
  const id = `${slo.service}-${slo.name}`;
  const shortest = Math.min(...slo.tiers.map((t) => t.shortMs));
  const part = (key: 'bad' | 'good' | 'total', query: string) => {
    // OpenSLO tools read a concrete query; sloe's $window becomes the shortest window. A query with other ranges
    // too keeps its exact text in an annotation, since the import turns every range back into $window.
    const concrete = fillWindow(query, formatDuration(shortest));
    if (/\[\s*[0-9][0-9a-z]*\s*\]/.test(query)) annotations[A.query(key)] = query;
    return source(concrete);
  };
  if (slo.minEvents !== DEFAULTS.minEvents) annotations[A.minEvents] = String(slo.minEvents);
  spec.indicator = {
    metadata: { name: `${id}-sli` },
    spec: {
      ratioMetric: {
        counter: true,
        ...(slo.ratio.bad !== undefined
          ? { bad: part('bad', slo.ratio.bad) }
          : { good: part('good', slo.ratio.good!) }),
        total: part('total', slo.ratio.total),
      },
    },
  };
  spec.timeWindow = [{ duration: shorthand(slo.windowMs) ?? formatDuration(slo.windowMs), isRolling: true }];
  spec.budgetingMethod = 'Occurrences';
  spec.objectives = [{ displayName: `${percent(slo.objective)} good`, target: Number(num(slo.objective)) }];
  spec.alertPolicies = slo.tiers.map((tier) => {
    const name = `${id}-${tier.severity}-${formatDuration(tier.longMs)}`;
    docs.push({
      apiVersion: API,
      kind: 'AlertPolicy',
      metadata: { name },
      spec: {
        description: `${percent(tier.budget)} of the error budget spent in ${formatDuration(tier.longMs)}`,
        alertWhenNoData: slo.noData === 'alert',
        alertWhenResolved: true,
        alertWhenBreaching: true,
        conditions: [{ conditionRef: `${name}-burn` }],
        notificationTargets: [{ targetRef: slo.escalation }],
      },
    });
    docs.push({
      apiVersion: API,
      kind: 'AlertCondition',
      metadata: {
        name: `${name}-burn`,
        annotations: { [A.budget]: percent(tier.budget), [A.shortWindow]: formatDuration(tier.shortMs) },
      },
      spec: {
        description: `burn rate over ${num(tier.factor)}× over ${formatDuration(tier.longMs)} and ${formatDuration(tier.shortMs)}`,
        severity: tier.severity,
        condition: {
          kind: 'burnrate',
          op: 'gt',
          threshold: Number(num(tier.factor)),
          lookbackWindow: shorthand(tier.longMs) ?? formatDuration(tier.longMs),
          alertAfter: shorthand(slo.forMs) ?? '0m',
        },
      },
    });
    return { alertPolicyRef: name };
  });
}

function thresholdSpec(slo: ThresholdSlo, spec: Obj, annotations: Record<string, string>): void {
  spec.indicator = {
    metadata: { name: `${slo.service}-${slo.name}-sli` },
    spec: { thresholdMetric: source(slo.query) },
  };
  if (slo.baseline !== undefined) annotations[A.baseline] = slo.baseline;
  if (!slo.when.text.startsWith('not ')) annotations[A.when] = slo.when.text;
  if (slo.severity !== 'page') annotations[A.severity] = slo.severity;
  annotations[A.objective] = slo.objective?.text ?? 'none';
  spec.timeWindow = [{ duration: '30d', isRolling: true }];
  // Each evaluation is a time slice, good when the objective holds. sloe alerts on the threshold itself and keeps no
  // budget for it; OpenSLO requires a target, so 99% is written.
  spec.budgetingMethod = 'Timeslices';
  const good = slo.objective ?? (slo.when.kind === 'threshold' ? negate(slo.when) : undefined);
  spec.objectives = [
    {
      displayName: good ? good.text : slo.when.text,
      ...(good ? { op: OPS[good.op], value: good.value } : {}),
      target: 0.99,
      timeSliceTarget: 1,
      timeSliceWindow: shorthand(slo.intervalMs) ?? formatDuration(slo.intervalMs),
    },
  ];
}

function negate(when: { op: '<' | '<=' | '>' | '>='; value: number }): {
  op: '<' | '<=' | '>' | '>=';
  value: number;
  text: string;
} {
  const op = ({ '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const)[when.op];
  return { op, value: when.value, text: `${op} ${num(when.value)}` };
}
