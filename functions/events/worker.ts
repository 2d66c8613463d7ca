/** The local server's outbox worker: delivery work runs outside the request, in the process. */
import { type OutboxDeps, processOutbox } from "./deliver.ts";

export function startOutboxWorker(gw: OutboxDeps, intervalMs = 500): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    running = processOutbox(gw)
      .catch((err: unknown) => gw.log.warn("outbox_worker_error", { message: String(err) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  let timer = setTimeout(tick, intervalMs);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
