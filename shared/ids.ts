// The one definition of the ids that cross process boundaries (docs/remote-format.md §1):
// uuids of XAPI objects and VHD footers, and the ids Deltachain makes itself (backup ids, disk
// keys). Ids never contain '.', '/' or '\', so a path joined from checked ids stays in its folder
// and never looks like a temporary.

/** A uuid in lowercase RFC 4122 text form, as XAPI and VHD footers give it. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A backup id or disk key: letters, digits, '_' and '-', 1..64 characters, starting with a letter or digit. */
export const ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;

export const UUID_RULE = 'expected a lowercase uuid like 0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
export const ID_RULE = 'use 1-64 letters, digits, "_" or "-", starting with a letter or digit';

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** A value for an error message: quoted, cut at 80 characters. */
export function shownValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
}
