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
 * the field's type or the allow-list refuses. With an environment, a step's channel is filled in and checked. The
 * document is read, not copied: references stay as written in it, and in the model (incidents store their frozen
 * policy); the channels fill them in when they send, with the same rule.
 */
export function checkReferences(ctx: CheckContext, doc: SourceDoc, root: Record<string, unknown>): void {
  // One path, grown and shrunk as the walk goes down and up; a string with `${` gets a copy of it.
  const path: Array<string | number> = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.includes('${')) reference(ctx, doc, root, v, [...path]);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        walk(v[i]);
        path.pop();
      }
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        path.push(k);
        walk((v as Record<string, unknown>)[k]);
        path.pop();
      }
    }
  };
  walk(root);
}

/**
 * One string holding `${`: reported, or checked. With an environment, a channel's value is checked to be a Slack
 * channel; the model keeps the reference as written either way (filled in when a message is sent).
 */
function reference(ctx: CheckContext, doc: SourceDoc, root: Record<string, unknown>, v: string, path: Path): void {
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
    return;
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
  if (!ctx.options.env || errors.length > 0 || refused) return;
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
}
