// The error of the lab's disk store: a state folder that cannot be read, or a misuse of a disk
// (unknown VDI, write past the end). The RPC layer translates it to a XAPI error code.
import { DeltachainError, type DeltachainErrorOptions } from '../../../shared/errors.js';

export class LabDiskError extends DeltachainError {
  override name = 'LabDiskError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('LAB_DISK', message, options);
  }
}
