// Parsers for option values, failing with commander's InvalidArgumentError (exit code 2) and a
// message that says what is expected.
import { InvalidArgumentError } from 'commander';

export function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

/** An instant: ISO 8601 ("2024-06-01T02:00:00Z", "2024-06-01") or "now". */
export function instant(value: string): Date {
  if (value === 'now') return new Date();
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T23:59:59.999Z` : value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected a date like 2024-06-01T02:00:00Z, 2024-06-01 (end of that day, UTC) or "now"');
  return date;
}
