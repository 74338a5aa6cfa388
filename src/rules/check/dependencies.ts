/**
 * Checks `dependsOn` (of a service and of an SLO), `inhibits` and `inhibitFor`, and records on each SLO what holds
 * its pages. A dependency names a declared service or `service/slo`; `inhibits` names SLOs of the same service; and
 * no SLO may wait, through any chain of them, for itself: two SLOs holding each other would both stay quiet through
 * one fault. A cycle is reported once, with its path (`a → b → a`).
 */
import { parseDuration } from '../duration.js';
import type { Inhibitor, Slo } from '../model.js';
import type { Problem } from '../problem.js';
import type { Path, SourceDoc } from '../source.js';

/** One written reference: who declares it, what it names, where. */
interface Edge {
  /** The SLO ids whose pages wait (a service's `dependsOn` holds each of its SLOs). */
  from: string[];
  ref: string;
  via: Inhibitor['via'];
  doc: SourceDoc;
  path: Path;
}

interface Declared {
  /** Service → its SLO names as written. */
  services: Map<string, string[]>;
  edges: Edge[];
  /** SLO id → its `inhibitFor` (own, else its service's), as written. */
  inhibitFor: Map<string, string | 0>;
}

const strings = (v: unknown): Array<[number, string]> =>
  Array.isArray(v) ? v.flatMap((x, i) => (typeof x === 'string' ? [[i, x] as [number, string]] : [])) : [];
const isDuration = (v: unknown): v is string | 0 => typeof v === 'string' || v === 0;

/** What the ServiceLevels documents declare, read as written (the schema has reported malformed values). */
function declared(docs: readonly SourceDoc[]): Declared {
  const out: Declared = { services: new Map(), edges: [], inhibitFor: new Map() };
  for (const doc of docs) {
    const v = doc.value as Record<string, unknown> | null;
    if (!v || typeof v !== 'object' || v.kind !== 'ServiceLevels' || typeof v.service !== 'string') continue;
    const service = v.service;
    const slos = (Array.isArray(v.slos) ? v.slos : []).map((s) =>
      s && typeof s === 'object' ? (s as Record<string, unknown>) : {},
    );
    const names = slos.flatMap((s) => (typeof s.name === 'string' ? [s.name] : []));
    out.services.set(service, [...(out.services.get(service) ?? []), ...names]);
    const ids = names.map((n) => `${service}/${n}`);
    for (const [i, ref] of strings(v.dependsOn))
      out.edges.push({ from: ids, ref, via: 'dependsOn', doc, path: ['dependsOn', i] });
    slos.forEach((s, index) => {
      if (typeof s.name !== 'string') return;
      const id = `${service}/${s.name}`;
      for (const [i, ref] of strings(s.dependsOn))
        out.edges.push({ from: [id], ref, via: 'dependsOn', doc, path: ['slos', index, 'dependsOn', i] });
      // `a inhibits b`: b's pages wait for a's.
      for (const [i, ref] of strings(s.inhibits)) {
        const target = ref.includes('/') ? ref : `${service}/${ref}`;
        out.edges.push({ from: [target], ref: id, via: 'inhibits', doc, path: ['slos', index, 'inhibits', i] });
      }
      const inhibitFor = isDuration(s.inhibitFor) ? s.inhibitFor : isDuration(v.inhibitFor) ? v.inhibitFor : undefined;
      if (inhibitFor !== undefined) out.inhibitFor.set(id, inhibitFor);
    });
  }
  return out;
}

/** The SLO ids a reference stands for: the SLO, or every SLO of a service. */
function expand(ref: string, services: ReadonlyMap<string, string[]>): string[] {
  if (ref.includes('/')) return [ref];
  return (services.get(ref) ?? []).map((n) => `${ref}/${n}`);
}

/** The problem with one reference, if any. */
function refProblem(edge: Edge, services: ReadonlyMap<string, string[]>): string | undefined {
  const [service, slo] = edge.ref.split('/') as [string, string | undefined];
  if (edge.via === 'inhibits') {
    const [targetService, target] = edge.from[0]!.split('/') as [string, string];
    const own = edge.ref.split('/')[0]!;
    if (targetService !== own) {
      return `inhibits holds SLOs of its own service (${own}); to hold ${JSON.stringify(`${targetService}/${target}`)}, give that SLO dependsOn: [${edge.ref}]`;
    }
    if (!(services.get(own) ?? []).includes(target))
      return `inhibits names SLO ${JSON.stringify(target)}, which service ${JSON.stringify(own)} does not declare (its SLOs: ${(services.get(own) ?? []).join(', ')})`;
    if (`${own}/${target}` === edge.ref) return 'an SLO cannot inhibit itself';
    return undefined;
  }
  const names = services.get(service);
  if (!names) return `dependsOn names service ${JSON.stringify(service)}, which is not declared (kind: ServiceLevels)`;
  if (slo !== undefined && !names.includes(slo))
    return `dependsOn names ${JSON.stringify(edge.ref)}: service ${JSON.stringify(service)} has no SLO ${JSON.stringify(slo)} (its SLOs: ${names.join(', ')})`;
  const own = edge.from[0]?.split('/')[0];
  if (slo === undefined && own === service) {
    return edge.path[0] === 'dependsOn'
      ? 'a service cannot depend on itself'
      : `dependsOn names the SLO's own service ${JSON.stringify(service)}: name the SLOs it waits for (${service}/slo)`;
  }
  if (edge.from.length === 1 && edge.from[0] === edge.ref) return 'an SLO cannot depend on itself';
  return undefined;
}

/** One cycle of each strongly connected part of the graph that has one (Tarjan), as a path a → … → a. */
function cycles(graph: ReadonlyMap<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const parts: string[][] = [];
  const connect = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const part: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        part.push(w);
      } while (w !== v);
      if (part.length > 1) parts.push(part);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  // Within a part, the shortest way from its first node (by name) back to it.
  return parts.map((part) => {
    const inPart = new Set(part);
    const start = [...part].sort()[0]!;
    const previous = new Map<string, string>();
    const queue = [start];
    for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
      for (const w of [...(graph.get(v) ?? [])].sort()) {
        if (!inPart.has(w)) continue;
        if (w === start) {
          const path = [v];
          for (let p = previous.get(v); p !== undefined; p = previous.get(p)) path.unshift(p);
          return [...path, start];
        }
        if (!previous.has(w) && w !== start) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

/**
 * Checks the dependencies of the documents, adding problems at their `path:line:col`, and returns the SLOs with
 * what holds their pages (`inhibitedBy`, `inhibitForMs`).
 */
export function withDependencies(docs: readonly SourceDoc[], slos: Slo[], problems: Problem[]): Slo[] {
  const { services, edges, inhibitFor } = declared(docs);
  const graph = new Map<string, Set<string>>();
  const where = new Map<string, Edge>();
  for (const edge of edges) {
    const problem = refProblem(edge, services);
    if (problem) {
      problems.push(edge.doc.problem(edge.path, problem));
      continue;
    }
    for (const from of edge.from) {
      for (const to of expand(edge.ref, services)) {
        if (to === from) continue;
        graph.set(from, (graph.get(from) ?? new Set()).add(to));
        if (!where.has(`${from} ${to}`)) where.set(`${from} ${to}`, edge);
      }
    }
  }
  for (const cycle of cycles(graph)) {
    const edge = where.get(`${cycle[0]} ${cycle[1]}`)!;
    problems.push(
      edge.doc.problem(
        edge.path,
        `dependency cycle: ${cycle.join(' → ')}: SLOs that wait for each other would all stay quiet through one fault`,
      ),
    );
  }
  return slos.map((slo) => {
    const held = edges
      .filter((e) => e.from.includes(slo.id) && !refProblem(e, services))
      .map((e) => ({ ref: e.ref, via: e.via }));
    const text = inhibitFor.get(slo.id);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (held.length === 0 && ms === undefined) return slo;
    return { ...slo, ...(held.length ? { inhibitedBy: held } : {}), ...(ms !== undefined ? { inhibitForMs: ms } : {}) };
  });
}
