import { DeltachainError, type DeltachainErrorOptions } from '../errors.js';

/**
 * A differencing chain cannot be followed: a parent is missing, is not the disk the child was
 * made from (uuid mismatch), the chain loops, or its disks disagree on block size. `path` is the
 * disk whose link is broken.
 */
export class VhdChainError extends DeltachainError {
  override name = 'VhdChainError';
  readonly path: string;
  constructor(path: string, message: string, options: DeltachainErrorOptions = {}) {
    super('VHD_CHAIN_INVALID', `${path}: ${message}`, options);
    this.path = path;
  }
}
