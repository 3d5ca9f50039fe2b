// Reads the arguments of XAPI calls the way the server's unmarshalling does: a record argument
// must be a struct; fields are type-checked; a required field that is missing or of the wrong
// type is FIELD_TYPE_ERROR(field); refs must name an existing object (HANDLE_INVALID).
import { fieldTypeError } from '../rpc/xapi-failure.js';
import type { RecordStore } from '../records/record-store.js';

export type Args = Record<string, unknown>;

export function structArg(value: unknown, what: string): Args {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fieldTypeError(what);
  return value as Args;
}

export function stringField(args: Args, field: string, fallback?: string): string {
  const value = args[field] ?? fallback;
  if (typeof value !== 'string') throw fieldTypeError(field);
  return value;
}

export function intField(args: Args, field: string, fallback?: number): number {
  let value = args[field] ?? fallback;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw fieldTypeError(field);
  return value;
}

export function floatField(args: Args, field: string, fallback?: number): number {
  const value = args[field] ?? fallback;
  if (typeof value !== 'number') throw fieldTypeError(field);
  return value;
}

export function boolField(args: Args, field: string, fallback?: boolean): boolean {
  const value = args[field] ?? fallback;
  if (typeof value !== 'boolean') throw fieldTypeError(field);
  return value;
}

export function mapField(args: Args, field: string, fallback?: Record<string, string>): Record<string, string> {
  const value = args[field] ?? fallback;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fieldTypeError(field);
  for (const v of Object.values(value)) if (typeof v !== 'string') throw fieldTypeError(field);
  return { ...(value as Record<string, string>) };
}

export function stringListField(args: Args, field: string, fallback?: string[]): string[] {
  const value = args[field] ?? fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw fieldTypeError(field);
  return [...(value as string[])];
}

export function enumField<T extends string>(args: Args, field: string, allowed: readonly T[], fallback?: T): T {
  const value = stringField(args, field, fallback);
  const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (match === undefined) throw fieldTypeError(field);
  return match;
}

/** A ref field that must name an existing `cls` object. */
export function refField(records: RecordStore, args: Args, field: string, cls: string): string {
  const ref = stringField(args, field);
  records.get(cls, ref);
  return ref;
}
