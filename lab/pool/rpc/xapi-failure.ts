// A XAPI failure as the wire carries it: an error code and string parameters
// (`HANDLE_INVALID [class, ref]`). Every lab method throws these for misuse, with the codes and
// parameters real XAPI uses, so clients see exactly what a pool would answer.
export class XapiFailure extends Error {
  override name = 'XapiFailure';
  constructor(
    readonly code: string,
    readonly params: string[] = [],
  ) {
    super(`${code}(${params.join(', ')})`);
  }
}

export const handleInvalid = (cls: string, ref: string): XapiFailure => new XapiFailure('HANDLE_INVALID', [cls, ref]);
export const uuidInvalid = (cls: string, uuid: string): XapiFailure => new XapiFailure('UUID_INVALID', [cls, uuid]);
export const sessionInvalid = (ref: string): XapiFailure => new XapiFailure('SESSION_INVALID', [ref]);
export const mapDuplicateKey = (cls: string, field: string, ref: string, key: string): XapiFailure =>
  new XapiFailure('MAP_DUPLICATE_KEY', [cls, field, ref, key]);
export const vmBadPowerState = (vm: string, expected: string, actual: string): XapiFailure =>
  new XapiFailure('VM_BAD_POWER_STATE', [vm, expected.toLowerCase(), actual.toLowerCase()]);
export const fieldTypeError = (field: string): XapiFailure => new XapiFailure('FIELD_TYPE_ERROR', [field]);
export const operationNotAllowed = (reason: string): XapiFailure => new XapiFailure('OPERATION_NOT_ALLOWED', [reason]);
export const internalError = (message: string): XapiFailure => new XapiFailure('INTERNAL_ERROR', [message]);
