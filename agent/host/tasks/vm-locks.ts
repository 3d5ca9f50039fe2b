// One backup of a VM at a time in this agent: a second task for the same VM (a redelivery racing
// a slow first delivery, two policies) waits for the first, so the snapshot and reference rules
// of backup-vm.ts never see two runs of one VM interleave.

export class VmLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(vmUuid: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(vmUuid) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(vmUuid, tail);
    await previous;
    try {
      return await operation();
    } finally {
      release();
      if (this.tails.get(vmUuid) === tail) this.tails.delete(vmUuid);
    }
  }
}
