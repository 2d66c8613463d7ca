/**
 * One run's staging: a body's bytes (a provider's answer or an upload)
 * through gunzip and the guard into a staging object, written with a
 * multipart upload while the cut bytes are counted and hashed. Nothing here
 * is released: the caller meters and copies only after `ok`.
 */
import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import type { GuardPlan, MediaKind } from "../../policies/guard/index.ts";
import { StoreUnavailableError } from "../errors.ts";
import { type GuardFailure, guardBody } from "./guard-stream.ts";
import type { SourceRefusal } from "./sources.ts";
import type { TransferStorage } from "./storage.ts";

export const CONTENT_TYPES: Readonly<Record<MediaKind, string>> = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
};

export type Staged =
  | {
      readonly ok: true;
      readonly records: number;
      /** Bytes of the cut body, and its sha256 (hex): exactly what the staging object holds. */
      readonly bytes: number;
      readonly sha256: string;
      readonly kind: MediaKind;
    }
  | { readonly ok: false; readonly failure: GuardFailure }
  | { readonly ok: false; readonly source: SourceRefusal };

/** Another run took the transfer over (this one's lease ended): this run stops, writing nothing more. */
export class LeaseLost extends Error {
  override readonly name = "LeaseLost";
}

export interface StageOptions {
  readonly plan: GuardPlan;
  readonly key: string;
  readonly maxDecodedBytes: number;
  /**
   * Called as the stream starts with a way to stop it (with an error that
   * the staging then throws); answers what to call once it ended.
   */
  readonly watch: (stop: (err: Error) => void) => () => void;
}

/**
 * Streams `source` into `options.key`. A guard refusal or a failed source is
 * an answer; a store fault (StoreUnavailableError) or a stop is thrown.
 */
export async function stageBody(
  storage: TransferStorage,
  source: {
    readonly body: Readable;
    readonly kind: MediaKind;
    readonly contentEncoding: string | undefined;
  },
  options: StageOptions,
): Promise<Staged> {
  const guarded = guardBody(source.body, options.plan, source.kind, {
    maxDecodedBytes: options.maxDecodedBytes,
    contentEncoding: source.contentEncoding,
  });
  const hash = createHash("sha256");
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  guarded.body.on("error", (e) => counted.destroy(e));
  guarded.body.pipe(counted);
  let stopped: Error | undefined;
  const unwatch = options.watch((err) => {
    stopped = err;
    guarded.body.destroy(err);
  });
  const writing = storage.write(options.key, counted, CONTENT_TYPES[source.kind]).then(
    () => null,
    (e: unknown) => {
      // The store failed: stop reading the source (the guard's outcome says source_error).
      guarded.body.destroy(e instanceof Error ? e : new Error(String(e)));
      return e;
    },
  );
  const [outcome, writeError] = await Promise.all([guarded.done, writing]).finally(unwatch);
  if (stopped !== undefined) throw stopped;
  if (!outcome.ok && outcome.failure.kind !== "source_error")
    return { ok: false, failure: outcome.failure };
  if (writeError instanceof StoreUnavailableError) throw writeError;
  if (!outcome.ok) return { ok: false, failure: outcome.failure };
  if (writeError !== null) throw writeError;
  return {
    ok: true,
    records: outcome.records,
    bytes,
    sha256: hash.digest("hex"),
    kind: source.kind,
  };
}
