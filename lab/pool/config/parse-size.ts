// Sizes in configs and flags: a number of bytes, or a number with a binary unit
// ("16GiB", "512 MiB", "4G" = 4 GiB). Decimal units are refused: disks are sized in binary.
import { ConfigError } from '../../../shared/errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tib: 2 ** 40 };

export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text <= 0) throw new ConfigError(`${what}: ${text} is not a positive number of bytes`);
    return text;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    throw new ConfigError(`${what}: ${JSON.stringify(text)} is not a size (examples: 16GiB, 512MiB, 1073741824)`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new ConfigError(`${what}: ${JSON.stringify(text)} is out of range`);
  return bytes;
}
