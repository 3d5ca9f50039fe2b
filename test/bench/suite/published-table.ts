// Puts the latest suite table into docs/benchmarks.md between two markers, so that page always
// shows the table of the last `npm run bench -- --publish` and nothing else in it changes. The
// README's Performance section quotes a few of its ratios by hand, with the date.
import { readFile, writeFile } from 'node:fs/promises';

export const START = '<!-- bench-suite:start (written by npm run bench -- --publish) -->';
export const END = '<!-- bench-suite:end -->';

export function replaceBetweenMarkers(text: string, body: string): string {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`no "${START}" … "${END}" markers to put the table between`);
  return `${text.slice(0, start + START.length)}\n${body.trimEnd()}\n${text.slice(end)}`;
}

export async function publishTable(path: string, body: string): Promise<void> {
  await writeFile(path, replaceBetweenMarkers(await readFile(path, 'utf8'), body));
}
