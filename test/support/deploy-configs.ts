// What the deploy tests need to know about the processes' configs and commands: the schema of
// each kind of config file, every field path a schema accepts (for the config reference), and
// the command trees of `deltachain` and `deltachain-lab` (to check that units and compose
// services run real commands).
import type { Command } from 'commander';
import type { z } from 'zod';
import { buildProgram } from '../../bin/main.js';
import { buildLabProgram } from '../../lab/main.js';
import { hostAgentConfigSchema } from '../../agent/host/index.js';
import { storageAgentConfigSchema } from '../../agent/storage/index.js';
import { coordinatorConfigSchema } from '../../coordinator/service/coordinator-config.js';
import { labConfigSchema } from '../../lab/pool/config/lab-config.js';

export type ProcessKind = 'coordinator' | 'storage' | 'host' | 'lab';

export const SCHEMAS: Record<ProcessKind, z.ZodType> = {
  coordinator: coordinatorConfigSchema,
  storage: storageAgentConfigSchema,
  host: hostAgentConfigSchema,
  lab: labConfigSchema,
};

/** The start scripts, relative to the project, and the command each runs. */
export const PROGRAMS: Record<string, () => Command> = { 'bin/deltachain.mjs': buildProgram, 'bin/lab.mjs': buildLabProgram };

/** Which process a config file belongs to, from the command that reads it and its `role`. */
export function kindOf(script: string, command: string[], config: Record<string, unknown>): ProcessKind {
  if (script === 'bin/lab.mjs' && command[0] === 'pool') return 'lab';
  if (script !== 'bin/deltachain.mjs') throw new Error(`${script} is not a start script of the project`);
  if (command[0] === 'coordinator') return 'coordinator';
  if (command[0] === 'agent' && (config.role === 'storage' || config.role === 'host')) return config.role;
  throw new Error(`no process reads a config with command ${command.join(' ')} and role ${String(config.role)}`);
}

interface ZodInternals {
  _zod: { def: { type: string; innerType?: ZodInternals; in?: ZodInternals; element?: ZodInternals; shape?: Record<string, ZodInternals> } };
}

/** Every field path of a schema ("a.b", "list[].c"); `opaque` paths are listed but not entered. */
export function fieldPaths(schema: z.ZodType, opaque: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (node: ZodInternals, prefix: string): void => {
    const def = node._zod.def;
    if (def.innerType) return walk(def.innerType, prefix);
    if (def.type === 'pipe' && def.in) return walk(def.in, prefix);
    if (def.type === 'array' && def.element) return walk(def.element, `${prefix}[]`);
    if (def.type !== 'object' || !def.shape) return;
    for (const [key, child] of Object.entries(def.shape)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.push(path);
      if (!opaque.includes(path)) walk(child, path);
    }
  };
  walk(schema as unknown as ZodInternals, '');
  return out;
}

/** The subcommand `words` of the command `script` starts (e.g. bin/lab.mjs, ["pool"]), or undefined. */
export async function findCommand(script: string, words: string[]): Promise<Command | undefined> {
  let command: Command | undefined = PROGRAMS[script]?.();
  for (const word of words) command = command?.commands.find((c) => c.name() === word);
  return command;
}

/** The long option names (`--config`) a command accepts. */
export function optionsOf(command: Command): string[] {
  return command.options.map((o) => o.long ?? '').filter(Boolean);
}
