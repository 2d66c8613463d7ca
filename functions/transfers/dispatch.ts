/**
 * How a transfer's job leaves the request: the routes hand a job to a
 * dispatcher and answer at once (202). In AWS the dispatcher invokes the
 * transfer worker Lambda asynchronously (functions/lambda/transfer-*.ts);
 * locally and in tests it runs the job in this process.
 *
 * A dispatch is a hint, not a promise: a job that never runs (a lost
 * invocation, a crashed process) leaves its transfer `running` with a lease
 * that ends, and the next read of the transfer dispatches it again
 * (functions/transfers/service.ts). So a dispatcher may fail quietly.
 */
import type { Logger } from "../log.ts";

/** What a worker is given: the transfer to run. Everything else is read from the store. */
export interface TransferJob {
  readonly transferId: string;
}

export interface TransferDispatcher {
  /** Starts the job elsewhere; resolves once it was handed over (not when it ends). */
  dispatch(job: TransferJob): Promise<void>;
}

/**
 * Runs each job in this process, after the current request's turn of the
 * event loop; `idle()` waits for every job started so far (tests, shutdown).
 */
export class InProcessDispatcher implements TransferDispatcher {
  readonly #running = new Set<Promise<void>>();
  #run: ((job: TransferJob) => Promise<unknown>) | undefined;

  constructor(
    private readonly log: Logger,
    run?: (job: TransferJob) => Promise<unknown>,
  ) {
    this.#run = run;
  }

  /** Names what runs a job (the gateway that owns this dispatcher is built after it). */
  bind(run: (job: TransferJob) => Promise<unknown>): void {
    this.#run = run;
  }

  async dispatch(job: TransferJob): Promise<void> {
    const run = this.#run;
    if (run === undefined) throw new Error("the in-process dispatcher runs nothing yet");
    const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => run(job))
      .then(
        () => undefined,
        (err: unknown) =>
          this.log.error("transfer_job_error", {
            transfer: job.transferId,
            message: err instanceof Error ? err.message : String(err),
          }),
      )
      .finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  /** Resolves when no job is running (jobs dispatched meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }
}
