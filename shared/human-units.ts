// Byte counts for people, the one form every command and log line uses: binary units, up to two
// decimals, trailing zeros dropped ("0 B", "1.5 KiB", "2 MiB", "12.01 MiB"). Exact byte counts go
// to --json output and metrics, never this.
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? `${value}` : value.toFixed(2).replace(/\.?0+$/, '');
  return `${text} ${UNITS[unit]}`;
}
