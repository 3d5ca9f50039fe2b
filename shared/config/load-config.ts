// Reads a JSON config file, applies environment overrides, and validates it through a zod
// schema. Errors name the file and the bad field ("storage.port: expected number …") so the
// operator knows what to fix. `process.env` is read by the caller and passed in.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/** Environment variables of the form DELTACHAIN__SECTION__FIELD=value override config fields. */
export const ENV_PREFIX = 'DELTACHAIN__';

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): Readonly<z.infer<S>> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`${source}: ${formatIssues(result.error.issues)}`);
  }
  return deepFreeze(result.data) as Readonly<z.infer<S>>;
}

export function applyEnvOverrides(raw: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map(camelCase);
    let node: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = coerce(value);
  }
  return out;
}

export async function loadConfigFile<S extends z.ZodType>(
  schema: S,
  path: string,
  env: Record<string, string | undefined> = {},
): Promise<Readonly<z.infer<S>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parseConfig(schema, applyEnvOverrides(raw as Record<string, unknown>, env), path);
}

function camelCase(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function coerce(value: string): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
