/**
 * An SLO's PromQL: syntax and types, `$window` as the range of a ratio's queries, and no grouping by a
 * high-cardinality label. Problems point at the character in the query as written.
 */
import { checkPromql } from '../promql.js';
import type { Path, SourceDoc } from '../source.js';
import type { CheckContext } from './context.js';

/** The range a ratio query is written with; the evaluator fills in each window's length. */
const WINDOW_PLACEHOLDER = '$window';

/** Checks a PromQL expression at `path` (`slos[i].…`); `windowed` for a ratio's queries, which range over `$window`. */
export function checkQuery(ctx: CheckContext, doc: SourceDoc, path: Path, expr: string, windowed: boolean): void {
  const field = path.slice(2).join('.');
  const { text, original } = windowed
    ? withWindowFilledIn(ctx, doc, path, field, expr)
    : { text: expr, original: (offset: number) => offset };
  const info = checkPromql(text);
  for (const issue of info.issues) {
    ctx.problems.push(
      doc.problemInString(path, original(issue.offset), `invalid PromQL in ${field}: ${issue.message}`),
    );
  }
  for (const g of info.groupedBy) {
    if (ctx.highCardinality.has(g.label)) {
      ctx.problems.push(
        doc.problemInString(
          path,
          original(g.offset),
          `${field} groups by high-cardinality label ${JSON.stringify(g.label)}: keep per-user and per-request ids in traces and logs, not in metric labels`,
        ),
      );
    }
  }
}

/**
 * A ratio query with each `$window` replaced by a valid range (`5m`) for the parser, and the map from an offset in
 * that text back to the query as written. A query without `$window` is a problem.
 */
function withWindowFilledIn(
  ctx: CheckContext,
  doc: SourceDoc,
  path: Path,
  field: string,
  expr: string,
): { text: string; original: (offset: number) => number } {
  if (!expr.includes(WINDOW_PLACEHOLDER)) {
    ctx.problem(
      doc,
      path,
      `${field} must use ${WINDOW_PLACEHOLDER} as its range, e.g. sum(rate(requests_total[${WINDOW_PLACEHOLDER}]))`,
    );
  }
  const shifts: Array<{ at: number; delta: number }> = [];
  let text = '';
  let from = 0;
  for (let i = expr.indexOf(WINDOW_PLACEHOLDER); i >= 0; i = expr.indexOf(WINDOW_PLACEHOLDER, from)) {
    text += expr.slice(from, i) + '5m';
    shifts.push({ at: text.length, delta: WINDOW_PLACEHOLDER.length - 2 });
    from = i + WINDOW_PLACEHOLDER.length;
  }
  text += expr.slice(from);
  const original = (offset: number) => offset + shifts.filter((s) => s.at <= offset).reduce((n, s) => n + s.delta, 0);
  return { text, original };
}
