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

/** `path:line:col: message`, the form editors and CI logs link to. */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** A GitHub Actions workflow command that annotates the line in a pull request. */
export function formatGithubProblem(p: Problem, level: 'error' | 'warning' = 'error'): string {
  const property = (s: string) =>
    s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
  const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `::${level} file=${property(p.file)},line=${p.line},col=${p.col}::${data(p.message)}`;
}
