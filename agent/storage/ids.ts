// The storage agent's checks of every id that arrives from the wire or a task, made before any
// path is built from it; a bad id is the caller's error (StorageRequestError).
import { ID_PATTERN, ID_RULE, UUID_PATTERN, UUID_RULE, shownValue } from '../../shared/ids.js';
import { StorageRequestError } from './errors.js';

export { ID_PATTERN, UUID_PATTERN };

function check(pattern: RegExp, what: string, value: unknown, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new StorageRequestError(`${what} ${shownValue(value)} is invalid: ${rule}`);
  return value;
}

/** A backup id: letters, digits, '_' and '-', 1..64 characters, starting with a letter or digit. */
export function validBackupId(value: unknown, what = 'backup id'): string {
  return check(ID_PATTERN, what, value, ID_RULE);
}

/** A disk key: same rule as a backup id. */
export function validDiskKey(value: unknown, what = 'disk key'): string {
  return check(ID_PATTERN, what, value, ID_RULE);
}

/** A uuid in lowercase RFC 4122 text form (VM uuid, footer uuid). */
export function validUuid(value: unknown, what: string): string {
  return check(UUID_PATTERN, what, value, UUID_RULE);
}
