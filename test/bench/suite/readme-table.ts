// Puts the latest suite table into the README between two markers, so the README always shows
// the table of the last `npm run bench -- --readme` and nothing else changes.
import { readFile, writeFile } from 'node:fs/promises';

export const START = '<!-- bench-suite:start (written by npm run bench -- --readme) -->';
export const END = '<!-- bench-suite:end -->';

export function replaceBetweenMarkers(text: string, body: string): string {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the README has no "${START}" … "${END}" markers to put the table between`);
  return `${text.slice(0, start + START.length)}\n${body.trimEnd()}\n${text.slice(end)}`;
}

export async function updateReadme(path: string, body: string): Promise<void> {
  await writeFile(path, replaceBetweenMarkers(await readFile(path, 'utf8'), body));
}
