/** Names and numbers as sloe writes them into other tools' formats. */

/** `it-support-assistant` + `latency-p95` → `ItSupportAssistantLatencyP95`: an alert name Prometheus accepts. */
export function pascalName(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split(/[^A-Za-z0-9]+/))
    .filter((w) => w !== '')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** A number without float noise (`0.14400000000000002` → `0.144`), as text. */
export function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

/** A fraction as a percentage text (`0.999` → `99.9%`). */
export function percent(fraction: number): string {
  return `${num(fraction * 100)}%`;
}

/** A name sloe accepts (`[a-z0-9-]+`, no leading or trailing `-`), made from any text; empty when nothing is left. */
export function sloeName(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
