// Module hooks (they run on Node's hooks thread) for record-loaded-modules.mjs.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.LOADED_MODULES_LOG) appendFileSync(process.env.LOADED_MODULES_LOG, `${url}\n`);
  return nextLoad(url, context);
}
