// What /healthz answers: the process's phase (starting, ready, stopping) and the status of each
// component it depends on (catalogue, NATS, XAPI, the remote's folder …). Each check runs at
// request time with a time limit, so a hung dependency shows as failing instead of hanging the
// probe. Ready means: phase `ready` and every component ok — the pure rule is `isReady`.
export type ProcessPhase = 'starting' | 'ready' | 'stopping';

export interface ComponentStatus {
  ok: boolean;
  /** A few words for the operator: "connected", "closed", "timed out after 2000 ms". */
  detail?: string;
}

/** A component's probe; a throw counts as not ok, with the error's message as detail. */
export type ComponentCheck = () => ComponentStatus | Promise<ComponentStatus>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  role: string;
  version: string;
  phase: ProcessPhase;
  /** Seconds since the process's observability started. */
  uptimeSeconds: number;
  components: Record<string, ComponentStatus>;
}

export interface HealthChecksOptions {
  role: string;
  version: string;
  /** Longest wait for one component's check, ms; default 2000. */
  checkTimeoutMs?: number;
  /** Milliseconds since the epoch; a parameter for tests. */
  now?: () => number;
}

/** The pure rule: ready when the phase is `ready` and every component is ok. */
export function isReady(phase: ProcessPhase, components: Record<string, ComponentStatus>): boolean {
  return phase === 'ready' && Object.values(components).every((c) => c.ok);
}

export class HealthChecks {
  readonly #checks = new Map<string, ComponentCheck>();
  readonly #options: HealthChecksOptions;
  readonly #startedAt: number;
  #phase: ProcessPhase = 'starting';

  constructor(options: HealthChecksOptions) {
    this.#options = options;
    this.#startedAt = this.#now();
  }

  get phase(): ProcessPhase {
    return this.#phase;
  }

  /** Adds (or replaces) the check of a component. */
  add(name: string, check: ComponentCheck): void {
    this.#checks.set(name, check);
  }

  setPhase(phase: ProcessPhase): void {
    this.#phase = phase;
  }

  async report(): Promise<HealthReport> {
    const names = [...this.#checks.keys()];
    const statuses = await Promise.all(names.map((name) => this.#run(this.#checks.get(name)!)));
    const components = Object.fromEntries(names.map((name, i) => [name, statuses[i]!]));
    const phase = this.#phase;
    return {
      status: isReady(phase, components) ? 'ok' : 'unavailable',
      role: this.#options.role,
      version: this.#options.version,
      phase,
      uptimeSeconds: Math.round((this.#now() - this.#startedAt) / 100) / 10,
      components,
    };
  }

  async #run(check: ComponentCheck): Promise<ComponentStatus> {
    const limit = this.#options.checkTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ComponentStatus>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: `timed out after ${limit} ms` }), limit);
    });
    try {
      return await Promise.race([Promise.resolve().then(check), timeout]);
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
