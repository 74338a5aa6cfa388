/** The range a ratio SLO's queries are written with: `sum(rate(requests_total[$window]))`. */
export const WINDOW_PLACEHOLDER = '$window';

/** A query with every `$window` replaced by `range` (a PromQL duration such as `5m`). */
export const fillWindow = (query: string, range: string): string => query.replaceAll(WINDOW_PLACEHOLDER, range);
