// Holds the faults armed in a running lab and decides, at each injection point, whether one
// fires. One-shot faults count down their `times` and disarm; `slowStreams` stays until cleared.
// Changed at run time through `POST /lab/faults`; every firing is logged.
import type { Logger } from '../../../shared/logging/index.js';
import { faultsSchema, type FaultName, type FaultsConfig } from './fault-config.js';

export class FaultInjector {
  private armed: FaultsConfig;

  constructor(
    initial: FaultsConfig = {},
    private readonly logger?: Logger,
  ) {
    this.armed = structuredClone(initial);
  }

  /** Arms the faults given (validated); `null` disarms one; others stay as they are. */
  update(patch: unknown): FaultsConfig {
    const object = (patch ?? {}) as Record<string, unknown>;
    const cleared = Object.keys(object).filter((k) => object[k] === null);
    const given = Object.fromEntries(Object.entries(object).filter(([, v]) => v !== null));
    const parsed = faultsSchema.parse(given);
    const next: Record<string, unknown> = { ...this.armed, ...parsed };
    for (const name of cleared) delete next[name];
    this.armed = faultsSchema.parse(next);
    return this.current();
  }

  clear(): void {
    this.armed = {};
  }

  current(): FaultsConfig {
    return structuredClone(this.armed);
  }

  /** The fault's settings if it fires now (counting it), else undefined. */
  take<N extends FaultName>(name: N, vdiUuid?: string): NonNullable<FaultsConfig[N]> | undefined {
    const fault = this.armed[name] as (NonNullable<FaultsConfig[N]> & { times?: number | 'always'; vdi?: string }) | undefined;
    if (fault === undefined) return undefined;
    if (fault.vdi !== undefined && vdiUuid !== undefined && fault.vdi !== vdiUuid) return undefined;
    if (typeof fault.times === 'number') {
      if (fault.times <= 1) delete this.armed[name];
      else fault.times -= 1;
    }
    this.logger?.warn({ fault: name, vdi: vdiUuid }, 'lab fault injected');
    return structuredClone(fault);
  }

  /** Bytes per second for streams, when slowed. */
  streamRate(): number | undefined {
    return this.armed.slowStreams?.bytesPerSecond;
  }
}
