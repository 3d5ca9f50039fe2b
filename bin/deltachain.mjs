#!/usr/bin/env node
// The `deltachain` command (bin/main.ts); launch.mjs picks the build or the TypeScript.
import { launch } from './launch.mjs';

await launch('main', new URL('./main.ts', import.meta.url).href);
