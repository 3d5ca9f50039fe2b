// Compact text for a set of block indexes ("0-5,9,12-40"): what `vhd info --blocks` prints, so a
// 2 TiB disk's allocation stays one readable line.

/** `indexes` ascending. */
export function formatBlockRanges(indexes: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indexes.length) {
    const start = indexes[i]!;
    let end = start;
    while (i + 1 < indexes.length && indexes[i + 1] === end + 1) end = indexes[++i]!;
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}
