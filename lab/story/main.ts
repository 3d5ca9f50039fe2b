// Entry of `npm run lab` (node --import tsx lab/story/main.ts [options]).
import { runLab } from './lab-command.js';

process.exitCode = await runLab(process.argv.slice(2), process.env);
