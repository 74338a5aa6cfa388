/**
 * An SLO's PromQL: syntax and types, `$window` as the range of a ratio's queries, and no grouping by a
 * high-cardinality label. Problems point at the character in the query as written.
 */
import { checkPromql, withWindowStandIn } from '../promql.js';
import type { Path, SourceDoc } from '../source.js';
import type { CheckContext } from './context.js';
import { WINDOW_PLACEHOLDER } from '../window.js';

/** Checks a PromQL expression at `path` (`slos[i].…`); `windowed` for a ratio's queries, which range over `$window`. */
export function checkQuery(ctx: CheckContext, doc: SourceDoc, path: Path, expr: string, windowed: boolean): void {
  // The field's name, for messages: `ratio.bad`.
  const field = () => path.slice(2).join('.');
  if (windowed && !expr.includes(WINDOW_PLACEHOLDER)) {
    ctx.problem(
      doc,
      path,
      `${field()} must use ${WINDOW_PLACEHOLDER} as its range, e.g. sum(rate(requests_total[${WINDOW_PLACEHOLDER}]))`,
    );
  }
  // The stand-in has the placeholder's length: an offset in the parsed text is one in the text as written, and the
  // check and the lint rules parse (and cache) the same string.
  const info = checkPromql(windowed ? withWindowStandIn(expr) : expr);
  for (const issue of info.issues) {
    ctx.problems.push(doc.problemInString(path, issue.offset, `invalid PromQL in ${field()}: ${issue.message}`));
  }
  for (const g of info.groupedBy) {
    if (ctx.highCardinality.has(g.label)) {
      ctx.problems.push(
        doc.problemInString(
          path,
          g.offset,
          `${field()} groups by high-cardinality label ${JSON.stringify(g.label)}: keep per-user and per-request ids in traces and logs, not in metric labels`,
        ),
      );
    }
  }
}
