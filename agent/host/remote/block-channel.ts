// A one-slot hand-over between a producer that pushes blocks (the export loop, which feeds every
// remote of a backup) and a consumer that pulls them as an async iterable (the storage client's
// PutDisk, which pulls the next block only when gRPC accepted the previous ones). `push`
// resolves when the consumer has taken the block, so the slowest remote paces the export.
// `fail` wakes a waiting producer with the consumer's error.

export class BlockChannel<T> implements AsyncIterable<T> {
  private item: { value: T; taken: () => void } | undefined;
  private waitingConsumer: (() => void) | undefined;
  private waitingProducer: { reject: (error: unknown) => void } | undefined;
  private closed = false;
  private failure: { error: unknown } | undefined;

  push(value: T): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.closed) return Promise.reject(new Error('push after close'));
    if (this.item !== undefined) return Promise.reject(new Error('push before the previous block was taken'));
    return new Promise<void>((resolve, reject) => {
      this.item = { value, taken: resolve };
      this.waitingProducer = { reject };
      this.wakeConsumer();
    });
  }

  close(): void {
    this.closed = true;
    this.wakeConsumer();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.waitingProducer?.reject(error);
    this.waitingProducer = undefined;
    this.item = undefined;
    this.closed = true;
    this.wakeConsumer();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.item === undefined && !this.closed) await new Promise<void>((resolve) => (this.waitingConsumer = resolve));
      const item = this.item;
      if (item === undefined) return;
      this.item = undefined;
      this.waitingProducer = undefined;
      item.taken();
      yield item.value;
    }
  }

  private wakeConsumer(): void {
    const wake = this.waitingConsumer;
    this.waitingConsumer = undefined;
    wake?.();
  }
}
