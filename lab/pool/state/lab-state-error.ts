// The lab's state folder cannot be used (unreadable state file, missing pool record).
import { DeltachainError, type DeltachainErrorOptions } from '../../../shared/errors.js';

export class LabStateError extends DeltachainError {
  override name = 'LabStateError';
  constructor(message: string, options: DeltachainErrorOptions = {}) {
    super('LAB_STATE', message, options);
  }
}
