// Strict patterns for every id that arrives from the wire or a task (docs/remote-format.md §1).
// Ids never contain '.', '/' or '\', so a path joined from validated ids stays in its folder and
// never looks like a temporary. Validation happens before any path is built.
import { StorageRequestError } from './errors.js';

export const ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function check(pattern: RegExp, what: string, value: unknown, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
    throw new StorageRequestError(`${what} ${shown} is invalid: ${rule}`);
  }
  return value;
}

/** A backup id: letters, digits, '_' and '-', 1..64 characters, starting with a letter or digit. */
export function validBackupId(value: unknown, what = 'backup id'): string {
  return check(ID_PATTERN, what, value, 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit');
}

/** A disk key: same rule as a backup id. */
export function validDiskKey(value: unknown, what = 'disk key'): string {
  return check(ID_PATTERN, what, value, 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit');
}

/** A uuid in lowercase RFC 4122 text form (VM uuid, footer uuid). */
export function validUuid(value: unknown, what: string): string {
  return check(UUID_PATTERN, what, value, 'expected a lowercase uuid like 0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10');
}
