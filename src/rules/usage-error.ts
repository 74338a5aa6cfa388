/** A command was called wrongly or its environment is missing something (exit code 2). */
export class UsageError extends Error {}
