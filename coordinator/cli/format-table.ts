// Aligned text tables for human output: a header row, columns padded to their widest cell,
// numbers right-aligned. Machine output is --json, never a parsed table.

export interface Column<T> {
  header: string;
  value: (row: T) => string | number;
  /** Right-align (numbers, sizes). */
  right?: boolean;
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => String(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** "key: value" lines with the keys aligned, for `show` commands. */
export function formatFields(fields: readonly [string, string | number][]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n') + '\n';
}
