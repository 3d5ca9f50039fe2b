// The boundary between the VHD tools and the operator: file-system errors (ENOENT, EACCES, ENOSPC…)
// become a DeltachainError with the message Node gives (it names the path), so the CLI prints one
// line instead of a stack trace. Our own errors pass through unchanged.
import { DeltachainError } from '../../errors.js';

export async function asToolError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toToolError(error);
  }
}

export function toToolError(error: unknown): unknown {
  if (error instanceof DeltachainError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new DeltachainError(`IO_${code}`, error.message, { cause: error, retryable: code === 'EAGAIN' || code === 'EBUSY' });
  }
  return error;
}
