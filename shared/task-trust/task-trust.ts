// Tasks the agents can trust (docs/security.md, "Signed tasks"). The coordinator signs every task
// it publishes with its Ed25519 key: the signature covers the task's exact bytes (which carry
// `signed_at_ms` and `expires_at_ms`) and travels in the NATS header `Deltachain-Task-Signature`
// (base64). An agent pins the coordinator's public key and takes a task message only when
//   - it carries a signature that verifies under that key (domain-separated: a grant's or any
//     other signature by the same key is not a task's),
//   - it is addressed to this agent's pool or remote,
//   - it has an expiry and that expiry has not passed,
//   - it is not a replay: the same task id and attempt already arrived as another message
//     (another JetStream sequence). A redelivery of the same message (an agent restarted, an ack
//     was lost) has the same sequence and is taken again, as at-least-once delivery needs,
//   - it is not from a deposed coordinator: its leader term (the fencing token of the
//     coordinators' lease) is not older than the highest term of a task this agent took. A task
//     taken raises that term; a redelivery of a message already taken is still taken.
// The term is checked even without a key (it guards against two coordinators, not an attacker);
// it is kept in memory: a restarted agent learns it again from the first task it takes.
// What was taken is remembered until the task expires (at most `maxRemembered` entries, the
// oldest dropped first): a replay across an agent restart is possible within the expiry, and
// then meets the storage agent's refusal to write a backup id twice and the grant's expiry.
// Without a key (`trust.insecure: true`) every well-formed task is taken.
import { Task } from '../proto/gen/deltachain/tasks/v1/task.js';
import type { Signer, Verifier } from '../signing/index.js';

export const TASK_SIGNATURE_HEADER = 'Deltachain-Task-Signature';
const DOMAIN = Buffer.from('deltachain task v1\0');

export type RefusalReason = 'malformed' | 'unsigned' | 'bad-signature' | 'other-agent' | 'no-expiry' | 'expired' | 'replayed' | 'deposed';

export class TaskRefusedError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    /** What the message claimed to be (proves nothing). */
    readonly claimedTaskId = '',
    readonly claimedAttempt = 0,
    readonly claimedTerm = 0,
  ) {
    super(message);
    this.name = 'TaskRefusedError';
  }
}

/** The header value for `data` (an encoded Task). */
export function signTask(signer: Signer, data: Uint8Array): string {
  return signer.sign(Buffer.concat([DOMAIN, data])).toString('base64');
}

export interface TaskMessage {
  data: Uint8Array;
  /** The header's value; undefined or '' when absent. */
  signature: string | undefined;
  /** The message's JetStream stream sequence. */
  sequence: number;
}

export interface TaskTrustOptions {
  /** The coordinator's public key; undefined = insecure (unsigned tasks taken). */
  coordinatorKey: Verifier | undefined;
  /** Whose tasks this agent takes. */
  role: 'host' | 'storage';
  scope: string;
  now?: () => number;
  maxRemembered?: number;
}

export class TaskTrust {
  readonly #taken = new Map<string, { sequence: number; expiresAtMs: number }>();
  readonly #now: () => number;
  readonly #max: number;
  #term = 0;

  constructor(private readonly options: TaskTrustOptions) {
    this.#now = options.now ?? Date.now;
    this.#max = options.maxRemembered ?? 100_000;
  }

  get secure(): boolean {
    return this.options.coordinatorKey !== undefined;
  }

  /** The highest leader term of a task taken (0: none yet). */
  get term(): number {
    return this.#term;
  }

  /** The task, or TaskRefusedError saying why not. */
  check(message: TaskMessage): Task {
    let task: Task;
    try {
      task = Task.decode(message.data);
    } catch (error) {
      throw new TaskRefusedError('malformed', `not a task: ${(error as Error).message}`);
    }
    const key = this.options.coordinatorKey;
    const id = task.taskId;
    const refuse = (reason: RefusalReason, text: string): never => {
      throw new TaskRefusedError(reason, `task ${JSON.stringify(id)} (attempt ${task.attempt}) refused: ${text}`, id, task.attempt, task.leaderTerm);
    };
    if (key === undefined) {
      const taken = `${id}.${task.attempt}`;
      const seen = this.#taken.get(taken);
      this.#fence(task, seen?.sequence === message.sequence, refuse);
      if (seen === undefined) this.#remember(taken, { sequence: message.sequence, expiresAtMs: task.expiresAtMs }, this.#now());
      return task;
    }
    if (!message.signature) refuse('unsigned', `it is not signed (no ${TASK_SIGNATURE_HEADER} header); only the coordinator's signed tasks are run`);
    const signature = Buffer.from(message.signature!, 'base64');
    if (!key.verify(Buffer.concat([DOMAIN, message.data]), signature)) refuse('bad-signature', "its signature is not the coordinator's (trust.coordinatorKey)");
    const target = task.target?.agent;
    const mine = this.options.role === 'host' ? target?.$case === 'poolId' : target?.$case === 'remoteId';
    if (!mine || target?.value !== this.options.scope) {
      refuse('other-agent', `it is for ${target ? `${target.$case === 'poolId' ? 'pool' : 'remote'} ${target.value}` : 'no agent'}, this agent serves ${this.options.role === 'host' ? 'pool' : 'remote'} ${this.options.scope}`);
    }
    const now = this.#now();
    if (task.expiresAtMs === 0) refuse('no-expiry', 'it has no expiry');
    if (task.expiresAtMs <= now) refuse('expired', `it expired at ${new Date(task.expiresAtMs).toISOString()}`);
    const taken = `${id}.${task.attempt}`;
    const seen = this.#taken.get(taken);
    if (seen !== undefined && seen.sequence !== message.sequence) refuse('replayed', `this task and attempt already arrived as message ${seen.sequence}; this is message ${message.sequence}, a replay`);
    this.#fence(task, seen !== undefined, refuse);
    if (seen === undefined) this.#remember(taken, { sequence: message.sequence, expiresAtMs: task.expiresAtMs }, now);
    return task;
  }

  /** Refuses a task of a term older than one taken (unless `redelivered`); a task taken raises the term. */
  #fence(task: Task, redelivered: boolean, refuse: (reason: RefusalReason, text: string) => never): Task {
    const term = task.leaderTerm;
    if (term !== 0 && term < this.#term && !redelivered) {
      refuse('deposed', `it was dispatched under coordinator lease term ${term}, and this agent has taken tasks of term ${this.#term}: the coordinator that sent it is no longer the active one`);
    }
    if (term > this.#term) this.#term = term;
    return task;
  }

  #remember(key: string, entry: { sequence: number; expiresAtMs: number }, now: number): void {
    if (this.#taken.size >= this.#max) {
      for (const [k, v] of this.#taken) if (v.expiresAtMs <= now) this.#taken.delete(k);
      while (this.#taken.size >= this.#max) this.#taken.delete(this.#taken.keys().next().value!);
    }
    this.#taken.set(key, entry);
  }
}
