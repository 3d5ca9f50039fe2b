// Byte counts for people: binary units with up to two decimals ("1.5 GiB"), exact bytes kept in
// --json output.
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
