// XAPI datetimes: `20240420T12:00:00Z` (some records use dashes: `2024-04-20T12:00:00Z`).
// The epoch value `19700101T00:00:00Z` means "never".

export function parseXapiDate(text: string): Date | undefined {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?Z$/.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  return Number.isNaN(date.getTime()) || date.getTime() === 0 ? undefined : date;
}

export function formatXapiDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/-/g, '');
}
