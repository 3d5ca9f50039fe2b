// A service that works in rounds (a subclass's `round()`): started, it runs a round, sleeps for as
// long as the round asked (or as the failure delay says, when it threw), and goes again until
// stopped. `wake()` runs a
// round at once; asked during a round, it runs the next one as soon as that round ends — rounds
// never overlap. `stop()` cancels the sleep and waits for the round under way.

export interface ServiceLoopOptions {
  /** Milliseconds to sleep after a round that threw. */
  afterFailureMs: number;
  /** Told of a round that threw (the loop goes on). */
  onError: (error: unknown) => void;
}

export abstract class ServiceLoop {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  private again = false;

  constructor(private readonly loopOptions: ServiceLoopOptions) {}

  /** One round; resolves to the milliseconds to sleep before the next. */
  protected abstract round(): Promise<number>;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** Runs a round now, or right after the one under way (new work, policies changed). */
  wake(): void {
    if (!this.running) return;
    if (this.current) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), delayMs);
  }

  private async loop(): Promise<void> {
    this.timer = undefined;
    let sleep = this.loopOptions.afterFailureMs;
    this.current = this.round().then(
      (ms) => void (sleep = ms),
      (error: unknown) => this.loopOptions.onError(error),
    );
    await this.current;
    this.current = undefined;
    if (!this.running) return;
    const delay = this.again ? 0 : sleep;
    this.again = false;
    this.schedule(delay);
  }
}
