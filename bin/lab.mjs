#!/usr/bin/env node
// The `deltachain-lab` command (lab/main.ts): the lab pool, for tests and demos; not part of
// `deltachain`. launch.mjs picks the build or the TypeScript.
import { launch } from './launch.mjs';

await launch('lab', new URL('../lab/main.ts', import.meta.url).href);
