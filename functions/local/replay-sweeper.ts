/**
 * Where the object store has no lifecycle rules (the embedded s3rver), the
 * local server deletes kept replay bodies itself once their claims have
 * expired (24 h, plus an hour for clocks and stragglers). In AWS a lifecycle
 * rule on the bucket does this (infra/constructs/objects.ts).
 */
import { REPLAY_PREFIX } from "../exchange/replays.ts";
import type { Logger } from "../log.ts";
import type { ObjectStore } from "../store/objects.ts";

const KEEP_MS = 25 * 3600 * 1000;
const EVERY_MS = 10 * 60 * 1000;

/** Deletes replay bodies older than their claims; answers how many it deleted. */
export async function sweepReplayBodies(objects: ObjectStore, now: Date): Promise<number> {
  const old = (await objects.list(REPLAY_PREFIX, "list kept bodies")).filter(
    (o) => now.getTime() - o.lastModified.getTime() > KEEP_MS,
  );
  for (const o of old) await objects.delete(o.key, "delete an expired body");
  return old.length;
}

export function startReplaySweeper(
  objects: ObjectStore,
  log: Logger,
  clock: () => Date,
): { stop(): Promise<void> } {
  const sweep = () =>
    void sweepReplayBodies(objects, clock()).catch((err: unknown) =>
      log.warn("replay_sweep_failed", { message: String(err) }),
    );
  sweep();
  const timer = setInterval(sweep, EVERY_MS);
  timer.unref();
  return { stop: async () => clearInterval(timer) };
}
