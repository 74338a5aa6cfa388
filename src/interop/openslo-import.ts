/**
 * OpenSLO v1 as sloe SLO files. SLO, SLI, AlertPolicy, AlertCondition, AlertNotificationTarget, DataSource and
 * Service documents may come in any files and order; references are resolved across all of them. A ratio SLI with
 * Occurrences budgeting becomes a ratio SLO with burn-rate tiers; a threshold SLI, or Timeslices budgeting, a
 * threshold SLO evaluated once per time slice.
 */
import { formatDuration, parseDuration } from '../rules/index.js';
import { num, percent } from './names.js';
import { ANNOTATIONS as A, fromShorthand } from './openslo.js';
import {
  type AlertDoc,
  type BurnRateTierDoc,
  type EscalationPolicyDoc,
  type ImportResult,
  OWNER_PLACEHOLDER,
  type OutputDoc,
  type ServiceLevelsDoc,
  type SloDoc,
  type StepDoc,
  defaultPolicy,
  guessSignal,
  nameFrom,
  ratioPart,
} from './sloe-docs.js';
import { type InputDoc, type Obj, type Path, isObj, readInput } from './yaml-input.js';
import { fillWindow } from '../rules/window.js';

const KINDS = [
  'SLO',
  'SLI',
  'AlertPolicy',
  'AlertCondition',
  'AlertNotificationTarget',
  'DataSource',
  'Service',
] as const;
type Kind = (typeof KINDS)[number];

/** A document, or a part of one (an inline SLI, policy, condition or target), with where it sits. */
interface Node {
  doc: InputDoc;
  path: Path;
  value: Obj;
}

const OPS: Record<string, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=' };

/** Imports OpenSLO v1 files. */
export async function importOpenSlo(files: readonly string[]): Promise<ImportResult> {
  const result: ImportResult = { files: [], problems: [], notes: [] };
  const named = new Map<Kind, Map<string, Node>>(KINDS.map((k) => [k, new Map()]));
  const slos: Node[] = [];
  for (const file of files) {
    const { docs, problems } = await readInput(file);
    result.problems.push(...problems);
    for (const doc of docs) {
      const v = doc.value;
      if (!isObj(v)) {
        result.problems.push(doc.problem([], 'expected an OpenSLO document (apiVersion: openslo/v1)'));
        continue;
      }
      if (v.apiVersion !== 'openslo/v1') {
        result.problems.push(
          doc.problem(
            ['apiVersion'],
            `unsupported apiVersion ${JSON.stringify(v.apiVersion)}: sloe imports openslo/v1`,
          ),
        );
        continue;
      }
      if (!(KINDS as readonly unknown[]).includes(v.kind)) {
        result.problems.push(
          doc.problem(['kind'], `unsupported kind ${JSON.stringify(v.kind)}: expected one of ${KINDS.join(', ')}`),
        );
        continue;
      }
      const kind = v.kind as Kind;
      const name = isObj(v.metadata) && typeof v.metadata.name === 'string' ? v.metadata.name : undefined;
      if (name === undefined) {
        result.problems.push(doc.problem(['metadata'], `${kind} needs metadata.name`));
        continue;
      }
      const node = { doc, path: [], value: v };
      const known = named.get(kind)!;
      const first = known.get(name);
      if (first) {
        const p = first.doc.position([]);
        result.problems.push(
          doc.problem(
            ['metadata', 'name'],
            `duplicate ${kind} ${JSON.stringify(name)} (already declared at ${first.doc.file}:${p.line}:${p.col})`,
          ),
        );
        continue;
      }
      known.set(name, node);
      if (kind === 'SLO') slos.push(node);
    }
  }
  new Importer(named, result).run(slos);
  return result;
}

class Importer {
  private readonly services = new Map<
    string,
    { levels: ServiceLevelsDoc; comments: string[]; policies: Map<string, EscalationPolicyDoc> }
  >();

  constructor(
    private readonly named: Map<Kind, Map<string, Node>>,
    private readonly result: ImportResult,
  ) {}

  private fail(node: Node, path: Path, message: string): undefined {
    this.result.problems.push(node.doc.problem([...node.path, ...path], message));
    return undefined;
  }

  private note(node: Node, path: Path, message: string): string {
    const p = node.doc.problem([...node.path, ...path], message);
    this.result.notes.push(p);
    return `${p.file}:${p.line}:${p.col}: ${p.message}`;
  }

  /** A part given inline (`{kind?, metadata, spec}`) or by reference (`refKey: name`). */
  private resolve(owner: Node, path: Path, value: unknown, kind: Kind, refKey: string): Node | undefined {
    if (!isObj(value)) return this.fail(owner, path, `expected an inline ${kind} or ${refKey}`);
    if (typeof value[refKey] === 'string') {
      const target = this.named.get(kind)!.get(value[refKey] as string);
      if (!target)
        return this.fail(
          owner,
          [...path, refKey],
          `${refKey} ${JSON.stringify(value[refKey])}: no ${kind} of that name in the files given`,
        );
      return target;
    }
    if (value.kind !== undefined && value.kind !== kind)
      return this.fail(owner, [...path, 'kind'], `expected kind ${kind}`);
    if (!isObj(value.spec)) return this.fail(owner, path, `an inline ${kind} needs a spec (or use ${refKey})`);
    return { doc: owner.doc, path: [...owner.path, ...path], value };
  }

  run(slos: Node[]): void {
    for (const node of slos) this.slo(node);
    for (const [name, { levels, comments, policies }] of this.services) {
      const docs: OutputDoc[] = [{ doc: levels, comment: comments }];
      for (const p of policies.values())
        docs.push({
          doc: p,
          comment: ['Generated from the AlertNotificationTargets; targets come from the environment where sloe runs.'],
        });
      this.result.files.push({ name, docs });
    }
  }

  private slo(node: Node): void {
    const v = node.value;
    const meta = v.metadata as Obj;
    const ann = strings(meta.annotations);
    const spec = isObj(v.spec) ? v.spec : undefined;
    if (!spec) return void this.fail(node, [], 'an SLO needs a spec');
    const serviceText = typeof spec.service === 'string' ? spec.service : undefined;
    const service = serviceText !== undefined ? nameFrom(serviceText) : undefined;
    if (service === undefined) return void this.fail(node, ['spec', 'service'], 'spec.service is required');
    const baseName = ann[A.name] ?? nameFrom(String(meta.name));
    if (baseName === undefined)
      return void this.fail(node, ['metadata', 'name'], 'the SLO name has no letters or digits');
    const comments: string[] = [];
    if (ann[A.name] === undefined && baseName !== meta.name)
      comments.push(
        this.note(
          node,
          ['metadata', 'name'],
          `SLO ${JSON.stringify(meta.name)} is named ${JSON.stringify(baseName)} in sloe`,
        ),
      );

    const indicator =
      spec.indicator !== undefined
        ? this.resolve(node, ['spec', 'indicator'], spec.indicator, 'SLI', 'indicatorRef')
        : typeof spec.indicatorRef === 'string'
          ? this.resolve(node, ['spec'], { indicatorRef: spec.indicatorRef }, 'SLI', 'indicatorRef')
          : this.fail(node, ['spec'], 'an SLO needs an indicator or indicatorRef');
    if (!indicator) return;
    const sli = indicator.value.spec as Obj;

    // Window: rolling only.
    let window = '30d';
    if (spec.timeWindow !== undefined) {
      const tw = Array.isArray(spec.timeWindow) ? spec.timeWindow : [];
      if (tw.length !== 1 || !isObj(tw[0]))
        return void this.fail(node, ['spec', 'timeWindow'], 'timeWindow takes exactly one window');
      const w = tw[0];
      if (w.calendar !== undefined || w.isRolling === false) {
        return void this.fail(
          node,
          ['spec', 'timeWindow', 0, w.calendar !== undefined ? 'calendar' : 'isRolling'],
          'calendar-aligned windows are not supported: sloe windows are rolling (isRolling: true)',
        );
      }
      const d = fromShorthand(w.duration);
      if (!d)
        return void this.fail(
          node,
          ['spec', 'timeWindow', 0, 'duration'],
          `invalid duration ${JSON.stringify(w.duration)}: expected a number and one of m, h, d, w, M, Q, Y`,
        );
      if (d.approximated)
        comments.push(this.note(node, ['spec', 'timeWindow', 0, 'duration'], `rolling window ${d.approximated}`));
      window = d.duration;
    }

    const budgeting = spec.budgetingMethod ?? 'Occurrences';
    if (budgeting !== 'Occurrences' && budgeting !== 'Timeslices') {
      return void this.fail(
        node,
        ['spec', 'budgetingMethod'],
        `budgetingMethod ${JSON.stringify(budgeting)} is not supported: Occurrences or Timeslices`,
      );
    }
    const objectives = Array.isArray(spec.objectives) ? spec.objectives : [];
    if (objectives.length === 0)
      return void this.fail(node, ['spec', 'objectives'], 'objectives must list at least one objective');

    const ratio = isObj(sli.ratioMetric) ? sli.ratioMetric : undefined;
    const threshold = isObj(sli.thresholdMetric) ? sli.thresholdMetric : undefined;
    if (!ratio && !threshold)
      return void this.fail(indicator, ['spec'], 'the SLI needs a ratioMetric or a thresholdMetric');

    const policies = Array.isArray(spec.alertPolicies) ? spec.alertPolicies : [];
    const alerting = this.alerting(node, policies, window, service);
    if (!alerting) return;

    // sloe's own fields that travel as JSON annotations (dependencies, compare:); invalid JSON is a problem there.
    const json = <T>(key: string): T | undefined => {
      if (ann[key] === undefined) return undefined;
      try {
        return JSON.parse(ann[key]) as T;
      } catch {
        this.fail(node, ['metadata', 'annotations', key], `${key} must be JSON`);
        return undefined;
      }
    };
    const dependsOn = json<string[]>(A.dependsOn);
    const inhibits = json<string[]>(A.inhibits);
    const compare = json<NonNullable<SloDoc['compare']>>(A.compare);
    const common = (name: string): Partial<SloDoc> => ({
      ...(typeof spec.description === 'string' && spec.description.trim() !== ''
        ? { description: spec.description }
        : {}),
      ...(ann[A.runbook] ? { runbook: ann[A.runbook] } : {}),
      ...(ann[A.interval] ? { interval: ann[A.interval] } : {}),
      ...(ann[A.escalation] || alerting.escalation ? { escalation: ann[A.escalation] ?? alerting.escalation } : {}),
      ...(labelsOf(meta.labels) ?? {}),
      ...(ann[A.noData]
        ? { noData: ann[A.noData] as 'ok' | 'keep' }
        : alerting.noData
          ? { noData: alerting.noData }
          : {}),
      ...(ann[A.noDataFor] ? { noDataFor: ann[A.noDataFor] } : {}),
      ...(ann[A.maxSeries] ? { maxSeries: Number(ann[A.maxSeries]) } : {}),
      ...(dependsOn ? { dependsOn } : {}),
      ...(inhibits ? { inhibits } : {}),
      ...(ann[A.inhibitFor] ? { inhibitFor: ann[A.inhibitFor] } : {}),
      ...(compare ? { compare } : {}),
      name,
    });
    const timing = (): AlertDoc => ({
      ...((ann[A.for] ?? alerting.for) ? { for: ann[A.for] ?? alerting.for } : {}),
      ...(ann[A.resolveAfter] ? { resolveAfter: ann[A.resolveAfter] } : {}),
    });

    const out: SloDoc[] = [];
    objectives.forEach((o: unknown, i: number) => {
      const op: Path = ['spec', 'objectives', i];
      if (!isObj(o)) return this.fail(node, op, 'an objective must be a mapping');
      const name =
        objectives.length === 1
          ? baseName
          : `${baseName}-${nameFrom(String(o.name ?? o.displayName ?? i + 1)) ?? i + 1}`;
      const target =
        typeof o.target === 'number'
          ? o.target
          : typeof o.targetPercent === 'number'
            ? o.targetPercent / 100
            : undefined;
      if (target === undefined || !(target > 0 && target < 1))
        return this.fail(node, op, 'an objective needs target (0 to 1) or targetPercent (0 to 100)');

      if (ratio && budgeting === 'Occurrences') {
        const parts = this.ratioParts(indicator, ratio, ann);
        if (!parts) return;
        if (alerting.conditions.length === 0 && policies.length > 0)
          return this.fail(node, ['spec', 'alertPolicies'], 'no alert policy of this SLO alerts when breaching');
        const tiers = alerting.conditions.length ? alerting.conditions : undefined;
        out.push({
          ...common(name),
          signal: ann[A.signal] ?? guessSignal(name, [parts.bad ?? parts.good ?? '', parts.total], true),
          dashboard: ann[A.dashboard] ?? service,
          ratio: parts,
          objective: percent(target),
          window,
          alert: {
            ...timing(),
            ...(tiers ? { burnRate: tiers } : { burnRate: 'workbook' }),
            ...(ann[A.minEvents] ? { minEvents: Number(ann[A.minEvents]) } : {}),
          },
        } as SloDoc);
        return;
      }
      // Threshold metric, or ratio budgeted by time slices: a threshold SLO evaluated once per slice.
      if (alerting.conditions.length)
        comments.push(
          this.note(
            node,
            ['spec', 'alertPolicies'],
            'burn-rate conditions do not apply to a threshold SLO: sloe alerts when the objective is not met for `for`',
          ),
        );
      let query: string | undefined;
      let objective: string | undefined;
      let interval: string | undefined;
      if (budgeting === 'Timeslices') {
        const w = fromShorthand(o.timeSliceWindow);
        if (!w)
          return this.fail(
            node,
            [...op, 'timeSliceWindow'],
            'Timeslices budgeting needs a timeSliceWindow (1m, 5m, or minutes as a number)',
          );
        interval = w.duration;
      }
      if (ratio) {
        const sliceTarget = typeof o.timeSliceTarget === 'number' ? o.timeSliceTarget : undefined;
        if (sliceTarget === undefined)
          return this.fail(
            node,
            op,
            'Timeslices budgeting of a ratio needs timeSliceTarget: the good share that makes a slice good',
          );
        const parts = this.ratioParts(indicator, ratio, ann);
        if (!parts) return;
        const fill = (q: string) => fillWindow(q, interval!);
        query =
          parts.good !== undefined
            ? `(${fill(parts.good)}) / (${fill(parts.total)})`
            : `1 - (${fill(parts.bad!)}) / (${fill(parts.total)})`;
        objective = `>= ${percent(sliceTarget)}`;
      } else {
        query = this.query(indicator, ['spec', 'thresholdMetric'], threshold!);
        if (query === undefined) return;
        if (ann[A.objective] !== undefined) {
          objective = ann[A.objective] === 'none' ? undefined : ann[A.objective];
        } else {
          const cmp = typeof o.op === 'string' ? OPS[o.op] : undefined;
          if (!cmp && ann[A.when] === undefined)
            return this.fail(node, [...op, 'op'], 'a threshold objective needs op (lt, lte, gt, gte) and value');
          if (cmp && typeof o.value !== 'number')
            return this.fail(node, [...op, 'value'], 'a threshold objective needs a numeric value');
          objective = cmp ? `${cmp} ${num(o.value as number)}` : undefined;
        }
      }
      if (ann[A.signal] === undefined)
        comments.push(
          this.note(
            node,
            op,
            `target ${percent(target)} is not used: sloe alerts when the objective is not met, it keeps no budget for threshold SLOs`,
          ),
        );
      const when = ann[A.when];
      out.push({
        ...common(name),
        signal: ann[A.signal] ?? guessSignal(name, [query], false),
        dashboard: ann[A.dashboard] ?? service,
        query,
        ...(ann[A.baseline] ? { baseline: ann[A.baseline] } : {}),
        ...(objective !== undefined ? { objective } : {}),
        ...(interval !== undefined && !ann[A.interval] ? { interval } : {}),
        alert: {
          ...(when ? { when } : {}),
          ...timing(),
          ...(ann[A.severity] ? { severity: ann[A.severity] as 'ticket' } : {}),
        },
      } as SloDoc);
    });
    if (out.length === 0) return;
    for (const s of out) if (s.alert && Object.keys(s.alert).length === 0) delete s.alert;

    let entry = this.services.get(service);
    if (!entry) {
      const svc = this.named.get('Service')!.get(serviceText!);
      const svcAnn = svc ? strings((svc.value.metadata as Obj).annotations) : {};
      const owner =
        svcAnn[A.owner] ??
        labelValue(svc?.value.metadata, 'owner') ??
        labelValue(meta, 'owner') ??
        labelValue(svc?.value.metadata, 'team') ??
        labelValue(meta, 'team') ??
        OWNER_PLACEHOLDER;
      let dashboards: ServiceLevelsDoc['dashboards'] = [{ id: service, title: `${service} SLOs`, owner }];
      const declared = svcAnn[A.dashboards];
      if (declared !== undefined) {
        try {
          dashboards = JSON.parse(declared) as ServiceLevelsDoc['dashboards'];
        } catch {
          this.fail(
            svc!,
            ['metadata', 'annotations', A.dashboards],
            `${A.dashboards} must be a JSON list of dashboards`,
          );
        }
      }
      const description =
        svc && isObj(svc.value.spec) && typeof svc.value.spec.description === 'string'
          ? svc.value.spec.description
          : undefined;
      const levels: ServiceLevelsDoc = {
        apiVersion: 'sloe/v1',
        kind: 'ServiceLevels',
        service,
        owner,
        ...(description && !svcAnn[A.owner] ? { description } : {}),
        dashboards,
        slos: [],
      };
      const header = [`Imported from OpenSLO: ${node.doc.file}${svc ? ` (Service ${svc.doc.file})` : ''}`];
      if (owner === OWNER_PLACEHOLDER)
        header.push(
          `${OWNER_PLACEHOLDER}: the input names no owner (a Service or SLO label owner or team); sloe validate fails until you fill it in.`,
        );
      entry = { levels, comments: header, policies: new Map() };
      this.services.set(service, entry);
    }
    entry.levels.slos.push(...out);
    entry.comments.push(...comments);
    if (!ann[A.escalation]) {
      const policy = alerting.policy ?? defaultPolicy(service);
      if (!entry.policies.has(policy.name)) entry.policies.set(policy.name, policy);
      for (const s of out) s.escalation = policy.name;
    }
  }

  /** The bad (or good) and total queries of a ratio SLI, with `$window` as their range. */
  private ratioParts(
    indicator: Node,
    ratio: Obj,
    ann: Record<string, string>,
  ): { bad?: string; good?: string; total: string } | undefined {
    if (ratio.raw !== undefined) {
      return this.fail(
        indicator,
        ['spec', 'ratioMetric', 'raw'],
        'a raw (precomputed) ratio cannot be imported: sloe needs good or bad, and total, to count events',
      );
    }
    const counter = ratio.counter !== false;
    const key = ratio.bad !== undefined ? 'bad' : ratio.good !== undefined ? 'good' : undefined;
    if (!key) return this.fail(indicator, ['spec', 'ratioMetric'], 'ratioMetric needs good or bad, and total');
    if (ratio.bad !== undefined && ratio.good !== undefined)
      return this.fail(indicator, ['spec', 'ratioMetric', 'good'], 'ratioMetric takes good or bad, not both');
    const part = (k: 'bad' | 'good' | 'total') => {
      const q = this.query(indicator, ['spec', 'ratioMetric', k], ratio[k]);
      if (q === undefined) return undefined;
      const exact = ann[A.query(k)];
      if (exact) return exact;
      const w = ratioPart(q, counter);
      if (w === undefined) {
        return this.fail(
          indicator,
          ['spec', 'ratioMetric', k, 'metricSource', 'spec', 'query'],
          counter
            ? 'cannot tell which range to rate this counter over: use a plain counter selector, sum(counter{…}), or a query with a range such as [5m]'
            : 'a ratio of gauges (counter: false) needs a range in its query, such as sum_over_time(x[5m])',
        );
      }
      return w;
    };
    const numerator = part(key);
    const total = part('total');
    if (numerator === undefined || total === undefined) return undefined;
    return { [key]: numerator, total };
  }

  /** The PromQL of a metric source; anything but Prometheus is a problem. */
  private query(owner: Node, path: Path, metric: unknown): string | undefined {
    if (!isObj(metric) || !isObj(metric.metricSource)) return this.fail(owner, path, 'expected a metricSource');
    const src = metric.metricSource;
    const at = [...path, 'metricSource'];
    let type = typeof src.type === 'string' ? src.type : undefined;
    if (typeof src.metricSourceRef === 'string') {
      const ds = this.named.get('DataSource')!.get(src.metricSourceRef);
      if (!ds)
        return this.fail(
          owner,
          [...at, 'metricSourceRef'],
          `metricSourceRef ${JSON.stringify(src.metricSourceRef)}: no DataSource of that name in the files given`,
        );
      const dsType = isObj(ds.value.spec) && typeof ds.value.spec.type === 'string' ? ds.value.spec.type : undefined;
      if (dsType !== undefined && dsType.toLowerCase() !== 'prometheus') {
        return this.fail(
          ds,
          ['spec', 'type'],
          `data source type ${JSON.stringify(dsType)} is not supported: sloe queries Prometheus (or a Prometheus-compatible API)`,
        );
      }
      type ??= dsType;
    }
    if (type === undefined)
      return this.fail(
        owner,
        at,
        'the metric source needs type: Prometheus (or a metricSourceRef to a Prometheus DataSource)',
      );
    if (type.toLowerCase() !== 'prometheus')
      return this.fail(
        owner,
        [...at, 'type'],
        `metric source type ${JSON.stringify(type)} is not supported: sloe queries Prometheus (or a Prometheus-compatible API)`,
      );
    const spec = isObj(src.spec) ? src.spec : {};
    const q = typeof spec.query === 'string' ? spec.query : typeof spec.promql === 'string' ? spec.promql : undefined;
    if (q === undefined || q.trim() === '')
      return this.fail(owner, [...at, 'spec'], 'the Prometheus metric source needs spec.query');
    return q;
  }

  /** Burn-rate tiers, `for`, no-data handling and the escalation policy from the SLO's alert policies. */
  private alerting(
    node: Node,
    policies: unknown[],
    window: string,
    service: string,
  ):
    | { conditions: BurnRateTierDoc[]; for?: string; noData?: 'ok'; policy?: EscalationPolicyDoc; escalation?: string }
    | undefined {
    const conditions: BurnRateTierDoc[] = [];
    let forText: string | undefined;
    let noDataAlert = false;
    const steps: { page: StepDoc[]; ticket: StepDoc[] } = { page: [], ticket: [] };
    let escalation: string | undefined;
    const windowMs = parseDuration(window)!;
    let ok = true;
    policies.forEach((p, i) => {
      const policy = this.resolve(node, ['spec', 'alertPolicies', i], p, 'AlertPolicy', 'alertPolicyRef');
      if (!policy) return void (ok = false);
      const ps = policy.value.spec as Obj;
      if (ps.alertWhenNoData === true) noDataAlert = true;
      const breaching = ps.alertWhenBreaching !== false;
      const conds = Array.isArray(ps.conditions) ? ps.conditions : [];
      if (conds.length === 0)
        return void (ok = this.fail(policy, ['spec', 'conditions'], 'an AlertPolicy needs a condition') ?? false);
      conds.forEach((c, j) => {
        const cond = this.resolve(policy, ['spec', 'conditions', j], c, 'AlertCondition', 'conditionRef');
        if (!cond) return void (ok = false);
        const tier = this.tier(cond, windowMs);
        if (!tier) return void (ok = false);
        if (!breaching) return;
        conditions.push(tier.tier);
        if (forText !== undefined && tier.for !== forText) {
          ok = false;
          this.fail(
            cond,
            ['spec', 'condition', 'alertAfter'],
            `alertAfter ${tier.for} differs from ${forText} of another condition: a sloe SLO has one \`for\` for all its tiers`,
          );
        }
        forText = tier.for;
      });
      const targets = Array.isArray(ps.notificationTargets) ? ps.notificationTargets : [];
      targets.forEach((t, j) => {
        const target = this.resolve(
          policy,
          ['spec', 'notificationTargets', j],
          t,
          'AlertNotificationTarget',
          'targetRef',
        );
        if (!target) return void (ok = false);
        const tAnn = strings((target.value.metadata as Obj | undefined)?.annotations);
        if (tAnn[A.escalationPolicy]) {
          escalation = tAnn[A.escalationPolicy];
          return;
        }
        const kind =
          isObj(target.value.spec) && typeof target.value.spec.target === 'string'
            ? target.value.spec.target.toLowerCase()
            : '';
        const tname = (nameFrom(String((target.value.metadata as Obj | undefined)?.name ?? kind)) ?? kind)
          .toUpperCase()
          .replace(/-/g, '_');
        if (kind === 'slack') {
          const step: StepDoc = { notify: 'slack', channel: `\${SLACK_CHANNEL_${tname}}` };
          if (!steps.page.some((s) => JSON.stringify(s) === JSON.stringify(step))) steps.page.push(step);
          if (!steps.ticket.some((s) => JSON.stringify(s) === JSON.stringify(step))) steps.ticket.push(step);
        } else if (kind === 'pagerduty') {
          const step: StepDoc = { notify: 'pagerduty', routingKey: `\${PAGERDUTY_${tname}_KEY}` };
          if (!steps.page.some((s) => JSON.stringify(s) === JSON.stringify(step))) steps.page.push(step);
        } else {
          ok = false;
          this.fail(
            target,
            ['spec', 'target'],
            `notification target ${JSON.stringify(kind)} has no sloe channel: sloe notifies slack and pagerduty (and on-call schedules)`,
          );
        }
      });
    });
    if (!ok) return undefined;
    let policy: EscalationPolicyDoc | undefined;
    if (steps.page.length || steps.ticket.length) {
      policy = {
        apiVersion: 'sloe/v1',
        kind: 'EscalationPolicy',
        name: `${service}-alerts`,
        ...(steps.page.length ? { page: steps.page } : {}),
        ...(steps.ticket.length ? { ticket: steps.ticket } : {}),
      };
    }
    return {
      conditions,
      ...(forText !== undefined && forText !== '0s' ? { for: forText } : {}),
      ...(policies.length > 0 && !noDataAlert ? { noData: 'ok' as const } : {}),
      ...(policy ? { policy } : {}),
      ...(escalation ? { escalation } : {}),
    };
  }

  /** A burn-rate AlertCondition as a sloe tier: budget = threshold × lookback window ÷ SLO window. */
  private tier(cond: Node, windowMs: number): { tier: BurnRateTierDoc; for: string } | undefined {
    const spec = cond.value.spec as Obj;
    const ann = strings((cond.value.metadata as Obj | undefined)?.annotations);
    const c = isObj(spec.condition) ? spec.condition : undefined;
    if (!c) return this.fail(cond, ['spec'], 'an AlertCondition needs a condition');
    if ((c.kind ?? 'burnrate') !== 'burnrate')
      return this.fail(
        cond,
        ['spec', 'condition', 'kind'],
        `condition kind ${JSON.stringify(c.kind)} is not supported: burnrate`,
      );
    if (c.op !== undefined && c.op !== 'gt' && c.op !== 'gte')
      return this.fail(
        cond,
        ['spec', 'condition', 'op'],
        'a burn-rate condition alerts when the burn rate is above its threshold (op: gt)',
      );
    if (typeof c.threshold !== 'number' || !(c.threshold > 0))
      return this.fail(cond, ['spec', 'condition', 'threshold'], 'threshold must be a burn rate above 0');
    const long = fromShorthand(c.lookbackWindow);
    if (!long)
      return this.fail(cond, ['spec', 'condition', 'lookbackWindow'], 'lookbackWindow must be a duration such as 1h');
    const after =
      c.alertAfter === undefined
        ? { duration: '0s' }
        : (fromShorthand(c.alertAfter) ??
          (/^\s*0\s*[smhdw]?\s*$/.test(String(c.alertAfter)) ? { duration: '0s' } : undefined));
    if (!after) return this.fail(cond, ['spec', 'condition', 'alertAfter'], 'alertAfter must be a duration such as 5m');
    const sev = typeof spec.severity === 'string' ? severity(spec.severity) : undefined;
    if (!sev)
      return this.fail(
        cond,
        ['spec', 'severity'],
        `severity ${JSON.stringify(spec.severity)}: sloe knows page (page, critical, sev1, p1, high) and ticket (ticket, warning, sev2–sev5, p2–p5, low, info)`,
      );
    const longMs = parseDuration(long.duration)!;
    const budget = ann[A.budget] ?? percent((c.threshold * longMs) / windowMs);
    const short = ann[A.shortWindow];
    return {
      tier: { severity: sev, budget, long: long.duration, ...(short ? { short } : {}) },
      for: formatDuration(parseDuration(after.duration)!),
    };
  }
}

function severity(text: string): 'page' | 'ticket' | undefined {
  const s = text.trim().toLowerCase();
  if (['page', 'critical', 'sev1', 'p1', 'high'].includes(s)) return 'page';
  if (['ticket', 'warning', 'sev2', 'sev3', 'sev4', 'sev5', 'p2', 'p3', 'p4', 'p5', 'low', 'info'].includes(s))
    return 'ticket';
  return undefined;
}

function strings(v: unknown): Record<string, string> {
  if (!isObj(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** OpenSLO labels (a value or a list of values) as sloe labels; lists are joined with commas. */
function labelsOf(v: unknown): { labels: Record<string, string> } | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else if (Array.isArray(val)) out[k] = val.map(String).join(',');
  }
  return Object.keys(out).length ? { labels: out } : undefined;
}

function labelValue(meta: unknown, key: string): string | undefined {
  if (!isObj(meta) || !isObj(meta.labels)) return undefined;
  const v = meta.labels[key];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}
