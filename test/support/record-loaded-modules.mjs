// `node --import ./test/support/record-loaded-modules.mjs …`: appends the URL of every ES module
// the process loads, one per line, to the file named by $LOADED_MODULES_LOG. (Under Node 20 the
// hooks see ES modules only: a CommonJS package shows as the file an `import` named.)
import { register } from 'node:module';

register(new URL('./loaded-modules-hooks.mjs', import.meta.url));
