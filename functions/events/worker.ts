/**
 * The local server's background worker: delivery work runs outside the
 * request, in the process, and the audit trail is anchored once a minute (in
 * AWS the events function does both).
 */
import type { Gateway } from "../gateway.ts";
import { type OutboxDeps, processOutbox } from "./deliver.ts";

export const ANCHOR_INTERVAL_MS = 60_000;

export function startOutboxWorker(
  gw: OutboxDeps & Pick<Gateway, "audit">,
  intervalMs = 500,
  anchorEveryMs = ANCHOR_INTERVAL_MS,
): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  let lastAnchor = 0;
  const pass = async () => {
    await processOutbox(gw);
    if (Date.now() - lastAnchor >= anchorEveryMs) {
      lastAnchor = Date.now();
      await gw.audit.anchor();
    }
  };
  const tick = () => {
    if (stopped) return;
    running = pass()
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
