// Where the coordinator's ids come from: a parameter (tests pass fixed ones), with random uuids
// and 8-hex-digit backup id suffixes in production.
import { randomBytes, randomUUID } from 'node:crypto';

export interface Ids {
  /** A new uuid (runs, tasks). */
  uuid(): string;
  /** A short random suffix for backup ids (letters and digits). */
  suffix(): string;
}

export const randomIds: Ids = {
  uuid: () => randomUUID(),
  suffix: () => randomBytes(4).toString('hex'),
};
