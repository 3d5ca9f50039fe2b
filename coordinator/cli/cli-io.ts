// Where the CLI writes: standard output for results, standard error for messages and progress.
// Passed down (never a global) so tests run commands in-process and read what they printed.

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** True when stdout is a terminal: live progress bars, colours. */
  isTTY: boolean;
  /** Terminal width in characters (80 when unknown). */
  columns: number;
  /** Environment variables (read here and nowhere else in the CLI). */
  env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTTY: Boolean(process.stdout.isTTY),
    columns: process.stdout.columns ?? 80,
    env: process.env,
  };
}
