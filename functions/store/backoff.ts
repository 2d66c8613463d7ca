/**
 * The wait between rounds of a store call that lost to contention or
 * throttling (a transaction conflict, a moved audit head, keys DynamoDB left
 * unprocessed): exponential and capped, with full jitter, so that writers
 * that collided once do not collide again in step.
 */

export interface BackoffOptions {
  /** The ceiling of the first round's wait (attempt 0); it doubles every attempt. */
  readonly baseMs: number;
  /** No wait is longer than this. */
  readonly capMs: number;
}

/** A wait drawn uniformly from [0, min(capMs, baseMs × 2^attempt)) ("full jitter"). */
export const jitteredDelay = (attempt: number, { baseMs, capMs }: BackoffOptions): number =>
  Math.random() * Math.min(capMs, baseMs * 2 ** attempt);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
