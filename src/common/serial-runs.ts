/**
 * Runs of a level-triggered pass that never overlap: a kick while a run is under way asks for one
 * more run after it (however many kicks came), so the last change is always seen by a whole pass.
 * The pass handles its own errors; `more` may hold a repeat back (stopped, backing off).
 */
export class SerialRuns {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly more: () => boolean = () => true,
  ) {}

  /** Runs the pass now, or once more after the run under way. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && this.more());
      this.running = null;
    })();
  }

  /** Resolves when no run is under way. */
  async idle(): Promise<void> {
    await this.running;
  }
}
