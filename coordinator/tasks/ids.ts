// The production source of ids: random uuids and 8-hex-digit backup id suffixes.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Ids } from './record-run.js';

export const randomIds: Ids = {
  uuid: () => randomUUID(),
  suffix: () => randomBytes(4).toString('hex'),
};
