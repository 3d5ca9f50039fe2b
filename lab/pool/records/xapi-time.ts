// XAPI's datetime wire format (ISO 8601 basic, UTC, no fraction): "20240420T12:00:00Z".
export const XAPI_EPOCH = '19700101T00:00:00Z';

export function xapiTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/-/g, '');
}

export function dateFromXapiTime(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(text);
  if (m === null) return new Date(NaN);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}
