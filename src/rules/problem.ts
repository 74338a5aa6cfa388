/** A problem found in an SLO file, with the position of the offending node (1-based line and column). */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** Orders problems by file, line and column, so that output is stable. */
export function sortProblems<P extends Problem>(problems: P[]): P[] {
  return [...problems].sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col,
  );
}

/**
 * Characters a terminal or a log viewer acts on instead of showing: C0 and C1 controls (ESC starts ANSI sequences,
 * BEL, backspace, carriage return and line breaks rewrite what was shown), DEL, the Unicode line separators, and the
 * bidirectional overrides and isolates that reorder what a reader sees.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** The text with every unprintable character written as an escape (`\x1b`, `\u202e`): spec text cannot drive a terminal. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `path:line:col: message`, the form editors and CI logs link to; spec text in it is escaped (see printable). */
export function formatProblem(p: Problem): string {
  return `${printable(p.file)}:${p.line}:${p.col}: ${printable(p.message)}`;
}

/**
 * A GitHub Actions workflow command that annotates the line in a pull request. Unprintable characters are escaped
 * first, then what the command format reads (`%`, and `:`, `,` in properties) is percent-encoded, so that no spec
 * text can end the annotation or start another workflow command.
 */
export function formatGithubProblem(p: Problem, level: 'error' | 'warning' = 'error'): string {
  const property = (s: string) =>
    printable(s)
      .replace(/%/g, '%25')
      .replace(/\r/g, '%0D')
      .replace(/\n/g, '%0A')
      .replace(/:/g, '%3A')
      .replace(/,/g, '%2C');
  const data = (s: string) => printable(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `::${level} file=${property(p.file)},line=${p.line},col=${p.col}::${data(p.message)}`;
}
