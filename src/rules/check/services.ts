/**
 * A ServiceLevels document: the service (unique across files), its metrics, its dashboards (one owner each, across
 * files) and its SLOs' names (unique in the service). The SLOs themselves are checked later (slos.ts), once every
 * dashboard and policy they may name has been read.
 */
import type { Location } from '../model.js';
import { checkMetrics } from '../presets/check-presets.js';
import type { ServiceLevelsDoc } from '../schema.js';
import type { SourceDoc } from '../source.js';
import { type CheckContext, type ServiceContext, items, parsed, where } from './context.js';

/** `valid` is what the schema makes of the document when it is valid; else its parts are parsed one by one. */
export function checkServiceLevels(
  ctx: CheckContext,
  doc: SourceDoc,
  raw: Record<string, unknown>,
  valid: ServiceLevelsDoc | undefined,
): void {
  const shape = valid ? undefined : ctx.zod.ServiceLevelsSchema.shape;
  const service = valid ? valid.service : parsed(shape!.service, raw.service);
  const context: ServiceContext = {
    doc,
    service,
    owner: (valid ? valid.owner : parsed(shape!.owner, raw.owner)) ?? '',
    escalation: valid ? valid.escalation : parsed(shape!.escalation, raw.escalation),
    labels: (valid ? valid.labels : parsed(shape!.labels, raw.labels)) ?? {},
  };
  const interval = valid ? valid.interval : parsed(shape!.interval, raw.interval);
  if (interval !== undefined) context.intervalMs = ctx.positiveDuration(doc, ['interval'], interval);
  if (raw.metrics !== undefined) {
    const metrics = valid ? valid.metrics : parsed(shape!.metrics, raw.metrics);
    const problems = metrics ? checkMetrics(metrics, ctx.highCardinality) : [];
    ctx.presetProblems(doc, [], problems);
    context.metrics = metrics && problems.length === 0 ? metrics : 'flawed';
  }

  if (service !== undefined) {
    const first = ctx.services.get(service);
    if (first) {
      ctx.problem(
        doc,
        ['service'],
        `duplicate service ${JSON.stringify(service)} (already declared at ${where(first)})`,
      );
    } else {
      const source = ctx.loc(doc, ['service']);
      ctx.services.set(service, source);
      ctx.serviceList.push({ name: service, owner: context.owner, source });
    }
  }

  checkDashboards(ctx, doc, raw.dashboards, valid);

  // Each name with the index of the SLO that declared it first: where that is is looked up for a duplicate only.
  const names = new Map<string, number>();
  items(raw.slos).forEach((item, index) => {
    const name = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).name : undefined;
    if (typeof name === 'string') {
      const first = names.get(name);
      if (first !== undefined) {
        ctx.problem(
          doc,
          ['slos', index, 'name'],
          `duplicate SLO ${JSON.stringify(name)} in service ${JSON.stringify(service ?? '')} (already declared at ${where(ctx.loc(doc, ['slos', first, 'name']))})`,
        );
        return;
      }
      names.set(name, index);
    }
    const slo = valid ? valid.slos[index] : parsed(ctx.zod.SloSchema, item);
    if (slo) ctx.candidates.push({ doc, index, slo, context });
  });
}

/** A service's `dashboards:`: unique in the document, and one owner for an id declared in several files. */
function checkDashboards(ctx: CheckContext, doc: SourceDoc, list: unknown, valid: ServiceLevelsDoc | undefined): void {
  const seenHere = new Map<string, Location>();
  items(list).forEach((item, i) => {
    const d = valid ? valid.dashboards![i] : parsed(ctx.zod.DashboardSchema, item);
    if (!d) {
      const id = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).id : undefined;
      if (typeof id === 'string') ctx.flawed.dashboards.add(id);
      return;
    }
    const at = ctx.loc(doc, ['dashboards', i, 'id']);
    const local = seenHere.get(d.id);
    if (local) {
      ctx.problem(
        doc,
        ['dashboards', i, 'id'],
        `duplicate dashboard ${JSON.stringify(d.id)} (already declared at ${where(local)})`,
      );
      return;
    }
    seenHere.set(d.id, at);
    const known = ctx.dashboards.get(d.id);
    if (!known) {
      ctx.dashboards.set(d.id, { id: d.id, title: d.title ?? d.id, url: d.url, owner: d.owner, declaredAt: [at] });
    } else if (known.owner !== d.owner) {
      ctx.problem(
        doc,
        ['dashboards', i, 'owner'],
        `dashboard ${JSON.stringify(d.id)} has two owners: ${JSON.stringify(d.owner)} here and ${JSON.stringify(known.owner)} at ${where(known.declaredAt[0]!)}; a dashboard has exactly one owner`,
      );
    } else {
      known.declaredAt.push(at);
    }
  });
}
