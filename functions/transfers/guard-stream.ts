/**
 * The streaming guard as Node streams, for transfers: a body's bytes as they
 * arrive (from a backend's answer or an uploaded object), gunzipped when the
 * body says so, capped, cut record by record. `GuardTransform` is the guard
 * alone (identity bytes in, cut bytes out); `guardBody` adds gunzip and
 * answers how it ended as data.
 *
 * Nothing that leaves here is final before `done` says ok: with
 * `onMarker: block`, a marker in the last record refuses the whole body, so
 * the caller writes the output where nobody can read it yet (a staging key)
 * and deletes it on a failure.
 */
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import {
  type GuardPlan,
  type GuardRefusal,
  type GuardStream,
  type MediaKind,
  openGuardStream,
} from "../../policies/guard/index.ts";

export type GuardFailure =
  /** The guard refused the body: a leak (`reason: "leak"`) or an uninspectable body. */
  | { readonly kind: "refused"; readonly refusal: GuardRefusal }
  /** The decoded body grew past `maxDecodedBytes` (a zip bomb stops there too). */
  | { readonly kind: "too_large"; readonly maxDecodedBytes: number }
  /** The body is not in the coding it claims, or names a coding other than gzip. */
  | { readonly kind: "bad_encoding" | "unsupported_encoding" }
  /** Reading the source failed (a backend that hung up, a storage error). */
  | { readonly kind: "source_error"; readonly cause: unknown };

export class GuardStreamError extends Error {
  override readonly name = "GuardStreamError";

  constructor(readonly failure: GuardFailure) {
    super(`guarded body failed: ${failure.kind}`);
  }
}

export interface GuardSummary {
  /** Records released. */
  readonly records: number;
  /** Bytes of the body after gunzip (what was inspected). */
  readonly decodedBytes: number;
  /** Bytes of the cut body. */
  readonly outBytes: number;
}

export interface GuardTransformOptions {
  /** Cap of the decoded body in bytes. */
  readonly maxDecodedBytes: number;
  /** Cap of one record, in characters. @default the guard's own default */
  readonly maxRecordChars?: number;
}

/** The guard as a Transform: UTF-8 bytes of a body of `kind` in, the cut body's bytes out. */
export class GuardTransform extends Transform {
  readonly #guard: GuardStream;
  readonly #max: number;
  #decoded = 0;
  #out = 0;
  /** Set once the body was cut whole. */
  summary: GuardSummary | null = null;

  constructor(plan: GuardPlan, kind: MediaKind, options: GuardTransformOptions) {
    super();
    const { maxRecordChars } = options;
    this.#guard = openGuardStream(
      plan,
      kind,
      maxRecordChars === undefined ? {} : { maxRecordChars },
    );
    this.#max = options.maxDecodedBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#decoded += chunk.length;
    if (this.#decoded > this.#max) {
      done(new GuardStreamError({ kind: "too_large", maxDecodedBytes: this.#max }));
      return;
    }
    const r = this.#guard.write(chunk);
    if (!r.ok) {
      done(new GuardStreamError({ kind: "refused", refusal: r }));
      return;
    }
    this.#emit(r.text);
    done();
  }

  override _flush(done: TransformCallback): void {
    const r = this.#guard.end();
    if (!r.ok) {
      done(new GuardStreamError({ kind: "refused", refusal: r }));
      return;
    }
    this.#emit(r.text);
    this.summary = { records: r.records, decodedBytes: this.#decoded, outBytes: this.#out };
    done();
  }

  #emit(text: string): void {
    if (text === "") return;
    const bytes = Buffer.from(text, "utf8");
    this.#out += bytes.length;
    this.push(bytes);
  }
}

export type GuardOutcome =
  | ({ readonly ok: true } & GuardSummary)
  | { readonly ok: false; readonly failure: GuardFailure };

export interface GuardedBody {
  /** The cut body's bytes; errors (a GuardStreamError) when `done` answers a failure. */
  readonly body: Readable;
  /** How it ended, once `body` was read to its end or failed. Never rejects. */
  readonly done: Promise<GuardOutcome>;
}

const GZIP = new Set(["gzip", "x-gzip"]);

/**
 * `source` (a body's bytes as they arrive, gzip when `contentEncoding` says
 * so) through gunzip and the guard. Read `body` (or pipe it to storage) and
 * await `done`.
 */
export function guardBody(
  source: AsyncIterable<Uint8Array> | Readable,
  plan: GuardPlan,
  kind: MediaKind,
  options: GuardTransformOptions & { readonly contentEncoding?: string | null },
): GuardedBody {
  const coding = (options.contentEncoding ?? "").trim().toLowerCase();
  const guard = new GuardTransform(plan, kind, options);
  if (coding !== "" && coding !== "identity" && !GZIP.has(coding)) {
    const failure: GuardFailure = { kind: "unsupported_encoding" };
    // Errors when read, not before: a caller that only looks at `done` leaves no unhandled error.
    const body = new Readable({
      read() {
        this.destroy(new GuardStreamError(failure));
      },
    });
    return { body, done: Promise.resolve(failed(failure)) };
  }
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  const gunzip = GZIP.has(coding) ? createGunzip() : null;
  const stages = gunzip === null ? [input, guard] : [input, gunzip, guard];
  let sourceError: unknown;
  input.once("error", (e) => {
    sourceError ??= e;
  });
  const done = pipeline(stages).then(
    (): GuardOutcome => ({ ok: true, ...(guard.summary as GuardSummary) }),
    (e: unknown): GuardOutcome => {
      if (e instanceof GuardStreamError) return failed(e.failure);
      if (sourceError !== undefined) return failed({ kind: "source_error", cause: sourceError });
      if (gunzip !== null && isZlibError(e)) return failed({ kind: "bad_encoding" });
      return failed({ kind: "source_error", cause: e });
    },
  );
  return { body: guard, done };
}

const failed = (failure: GuardFailure): GuardOutcome => ({ ok: false, failure });

const isZlibError = (e: unknown): boolean =>
  e instanceof Error &&
  typeof (e as NodeJS.ErrnoException).code === "string" &&
  ((e as NodeJS.ErrnoException).code as string).startsWith("Z_");
