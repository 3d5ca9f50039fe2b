import { InvalidInputError, type DeltachainErrorOptions } from '../../errors.js';

/**
 * A VHD file or stream is malformed. `where` says what was being read ("footer at offset 0",
 * "block 12"), so the message points at the fault.
 */
export class VhdFormatError extends InvalidInputError {
  override name = 'VhdFormatError';
  readonly where: string;
  constructor(where: string, message: string, options: DeltachainErrorOptions = {}) {
    super(`${where}: ${message}`, options);
    this.where = where;
  }
}
