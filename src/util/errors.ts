/** An error and its causes on one line, without a stack trace: `could not … "x": Prometheus … is unreachable`. */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur !== undefined && parts.length < 5; cur = (cur as { cause?: unknown }).cause) {
    parts.push(cur instanceof Error ? cur.message : String(cur));
    if (!(cur instanceof Error)) break;
  }
  return parts.join(': ');
}
