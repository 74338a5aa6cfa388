/**
 * `${NAME}` references in a document: allowed only in a step's Slack `channel` and PagerDuty `routingKey`, each name
 * checked against the allow-list, and with an environment, filled in to check what it holds.
 */
import {
  ENGINE_SECRETS,
  type ReferenceField,
  expandReferences,
  isEngineVariable,
  isSlackChannel,
  referenceText,
  scanReferences,
} from '../env.js';
import type { Path, SourceDoc } from '../source.js';
import type { CheckContext } from './context.js';

/**
 * The only fields whose `${NAME}` references are filled in: a step's Slack `channel` and its PagerDuty `routingKey`,
 * both when a message is sent (the model keeps them as written, so that they are shown and logged that way). Anywhere
 * else `${` is an error, so that no spec can read a variable into a label, a URL, a query or a message.
 */
function referenceField(kind: unknown, path: Path): ReferenceField | undefined {
  if (kind !== 'EscalationPolicy' || path.length !== 3) return undefined;
  const [severity, index, key] = path;
  if ((severity !== 'page' && severity !== 'ticket') || typeof index !== 'number') return undefined;
  return key === 'channel' || key === 'routingKey' ? key : undefined;
}

/** `slos[0].labels.leak`: where a value sits, for messages. */
function fieldPath(path: Path): string {
  return path
    .map((p, i) =>
      typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${p.length > 40 ? `${p.slice(0, 40)}…` : p}`,
    )
    .join('');
}

/**
 * Checks `${NAME}` references: `${` outside the reference fields is an error (at its position), and so is a name
 * the field's type or the allow-list refuses. With an environment, a step's channel is filled in and checked.
 */
export function checkReferences(
  ctx: CheckContext,
  doc: SourceDoc,
  root: Record<string, unknown>,
): Record<string, unknown> {
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (typeof v === 'string') return v.includes('${') ? reference(ctx, doc, root, v, path) : v;
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
    }
    return v;
  };
  return walk(root, []) as Record<string, unknown>;
}

/**
 * One string holding `${`: reported, or checked. With an environment, a channel's value is checked to be a Slack
 * channel; the model keeps the reference as written either way (filled in when a message is sent).
 */
function reference(ctx: CheckContext, doc: SourceDoc, root: Record<string, unknown>, v: string, path: Path): string {
  const field = referenceField(root.kind, path);
  if (!field) {
    const at = v.indexOf('${');
    const written = referenceText(v, at);
    const name = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(written)?.[1];
    const secret =
      name === undefined
        ? ''
        : ENGINE_SECRETS.has(name)
          ? `; ${name} is a credential of sloe itself and can never be referenced`
          : isEngineVariable(name)
            ? `; ${name} is a setting or credential of sloe itself and can never be referenced`
            : '';
    ctx.problems.push(
      doc.problemInString(
        path,
        at,
        `${written} is not allowed in ${fieldPath(path)}: environment references (\${…}) are filled in only in a step's channel and routingKey${secret}`,
      ),
    );
    return v;
  }
  const { refs, errors } = scanReferences(v);
  for (const e of errors) ctx.problems.push(doc.problemInString(path, e.offset, e.message));
  let refused = false;
  for (const r of refs) {
    const why = ctx.allow.refusal(r.name, field);
    if (why !== undefined) {
      refused = true;
      ctx.problems.push(doc.problemInString(path, r.offset, why));
    }
  }
  if (!ctx.options.env || errors.length > 0 || refused) return v;
  const { value, missing } = expandReferences(v, field, ctx.options.env, ctx.allow);
  for (const name of missing) {
    ctx.envProblems.push({ ...doc.problem(path, `environment variable ${name} is not set`), kind: String(root.kind) });
  }
  if (field === 'channel' && missing.length === 0 && !isSlackChannel(value)) {
    // The value is not shown: the reference as written says which variable to fix.
    ctx.problems.push(
      doc.problem(
        path,
        `${v} does not hold a Slack channel: its value must be "#name" or a channel id such as C0123ABCD`,
      ),
    );
  }
  // References stay as written in the model (incidents store their frozen policy); the channels fill them in when
  // they send, with the same rule.
  return v;
}
