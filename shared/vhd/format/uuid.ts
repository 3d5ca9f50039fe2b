// UUIDs are stored as 16 raw bytes, in the order of their canonical text form.
import { UUID_PATTERN, isUuid } from '../../ids.js';

export { isUuid };
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export function uuidToBytes(uuid: string, target: Buffer, offset: number): void {
  const lower = uuid.toLowerCase();
  if (!UUID_PATTERN.test(lower)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`);
  Buffer.from(lower.replace(/-/g, ''), 'hex').copy(target, offset);
}

export function bytesToUuid(source: Uint8Array, offset: number): string {
  const hex = Buffer.from(source.buffer, source.byteOffset + offset, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
