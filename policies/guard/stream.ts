/**
 * The guard over a stream of bytes: push chunks, get the cut text of every
 * record completed so far; end, get the rest and the record count. Memory is
 * bounded by one record (or one value outside the records) plus one chunk:
 * cut text is handed back at once and the text it came from dropped.
 *
 * Pure and push-based: no Node streams, no I/O. The caller undoes any content
 * coding (gzip) before feeding, and must discard everything written so far on
 * a refusal: with `onMarker: block`, a marker in the last record refuses the
 * whole body. `guardPayload` is this same stream fed one chunk.
 */
import { CsvFramer } from "./csv.ts";
import { Feed, type Framer } from "./feed.ts";
import { JsonFramer } from "./json.ts";
import { NdjsonFramer } from "./ndjson.ts";
import type { GuardPlan } from "./plan.ts";
import { type GuardRefusal, type MediaKind, NEED_MORE, Refusal, uninspectable } from "./result.ts";
import type { ScanState } from "./scan.ts";

/** Default cap of one record, or of one value outside the records, in characters. */
export const DEFAULT_MAX_RECORD_CHARS = 8 * 1024 * 1024;

export interface GuardStreamOptions {
  /**
   * Longest record (NDJSON: line; CSV: row), or value outside the records,
   * that the stream buffers, in UTF-16 code units; a longer one is refused as
   * `record_too_large`, however the body is split into chunks.
   * @default DEFAULT_MAX_RECORD_CHARS
   */
  readonly maxRecordChars?: number;
}

export type GuardChunk = { readonly ok: true; readonly text: string } | GuardRefusal;
export type GuardEnd =
  | { readonly ok: true; readonly text: string; readonly records: number }
  | GuardRefusal;

export interface GuardStream {
  /**
   * Feeds the next chunk: bytes (UTF-8, split anywhere) or text (never both in
   * one stream). Answers the cut text of what was completed, possibly "", or
   * the refusal; after a refusal every call answers it again.
   */
  write(chunk: Uint8Array | string): GuardChunk;
  /** The body is complete: the rest of the cut text and the number of records released. */
  end(): GuardEnd;
}

const BOM = 0xfeff;

class StreamingGuard implements GuardStream {
  readonly #feed: Feed;
  readonly #framer: Framer;
  readonly #plan: GuardPlan;
  #scan: ScanState | null;
  #decoder: InstanceType<typeof TextDecoder> | null = null;
  #mode: "bytes" | "text" | null = null;
  #refusal: GuardRefusal | null = null;
  #ended = false;
  #started = false;
  /** The text length at which a unit that needed more is tried again (doubling, so never quadratic). */
  #retryAt = 0;

  constructor(plan: GuardPlan, kind: MediaKind, maxUnit: number) {
    this.#plan = plan;
    const scan = plan.scans.take();
    this.#scan = scan;
    const out = scan.out;
    this.#feed = new Feed(out, maxUnit);
    this.#framer =
      kind === "csv"
        ? new CsvFramer(plan)
        : kind === "json"
          ? new JsonFramer(plan, out, scan)
          : new NdjsonFramer(plan, out, scan);
  }

  write(chunk: Uint8Array | string): GuardChunk {
    if (this.#refusal !== null) return this.#refusal;
    if (this.#ended) throw new Error("guard stream: write after end");
    const text = this.#decode(chunk, false);
    if (text === null) return this.#refuse(notUtf8());
    const r = this.#run(text, false);
    return r.ok ? { ok: true, text: r.text } : r;
  }

  end(): GuardEnd {
    if (this.#refusal !== null) return this.#refusal;
    if (this.#ended) throw new Error("guard stream: end after end");
    const text = this.#decoder === null ? "" : this.#decode(new Uint8Array(0), true);
    if (text === null) return this.#refuse(notUtf8());
    const r = this.#run(text, true);
    if (!r.ok) return r;
    this.#ended = true;
    this.#release();
    return { ok: true, text: r.text, records: this.#feed.records };
  }

  /** The whole body as one text: what guardPayload does. */
  all(text: string): GuardEnd {
    this.#mode = "text";
    const r = this.#run(text, true);
    if (!r.ok) return r;
    this.#ended = true;
    this.#release();
    return { ok: true, text: r.text, records: this.#feed.records };
  }

  #decode(chunk: Uint8Array | string, last: boolean): string | null {
    const mode = typeof chunk === "string" ? "text" : "bytes";
    if (this.#mode !== null && this.#mode !== mode && !last) {
      throw new TypeError("guard stream: bytes and text cannot be mixed in one stream");
    }
    this.#mode ??= mode;
    if (typeof chunk === "string") return chunk;
    this.#decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    try {
      return this.#decoder.decode(chunk, { stream: !last });
    } catch {
      return null;
    }
  }

  /** Appends `text` and cuts what can be cut; `final` when nothing follows. */
  #run(text: string, final: boolean): GuardChunk {
    const scan = this.#scan as ScanState;
    const feed = this.#feed;
    scan.enter();
    try {
      this.#append(text, final);
      const pending = feed.text.length - feed.pos;
      if (final || feed.text.length >= this.#retryAt || pending > feed.maxUnit) {
        this.#pump();
      }
      return { ok: true, text: feed.out.take() };
    } catch (e) {
      return this.#refuse(this.#refusalOf(e));
    } finally {
      scan.leave();
    }
  }

  #append(text: string, final: boolean): void {
    const feed = this.#feed;
    feed.final = final;
    if (text === "" && feed.pos === 0) return;
    // Drop what was cut; V8 keeps `text` flat when nothing is left over.
    const rest = feed.pos < feed.text.length ? feed.text.slice(feed.pos) : "";
    feed.base += feed.pos;
    this.#retryAt -= feed.pos;
    feed.pos = 0;
    feed.text = rest === "" ? text : rest + text;
    if (!this.#started && feed.text.length > 0) {
      this.#started = true;
      if (feed.text.charCodeAt(0) === BOM) feed.pos = 1;
    }
    this.#framer.retext(feed);
  }

  #pump(): void {
    const feed = this.#feed;
    try {
      this.#framer.pump(feed);
      if (feed.final) this.#framer.close(feed);
      this.#retryAt = 0;
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      feed.rollback();
      const pending = feed.text.length - feed.pos;
      const undecided = this.#framer.undecidedAt ?? -1;
      if ((undecided >= 0 ? undecided : feed.text.length) - feed.pos > feed.maxUnit)
        throw feed.tooLarge();
      // Try again once the unit's text has doubled: a record spanning many chunks costs linear time.
      if (this.#framer.rereads) this.#retryAt = feed.pos + 2 * pending;
    }
  }

  #refusalOf(e: unknown): GuardRefusal {
    if (e instanceof Refusal) return this.#feed.place(e, this.#framer.scanPos).result;
    // Unreachable under MAX_DEPTH_CEILING; should a caller run with a tiny stack, refuse, never crash.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return {
        ok: false,
        reason: "uninspectable",
        detail: "too_deep",
        message: "JSON nested too deep",
      };
    }
    throw e;
  }

  #refuse(refusal: GuardRefusal): GuardRefusal {
    this.#refusal = refusal;
    this.#feed.text = "";
    this.#feed.out.take();
    this.#release();
    return refusal;
  }

  #release(): void {
    if (this.#scan !== null) {
      // An idle state must not keep the body alive.
      this.#scan.out.source = "";
      this.#scan.keys.reset("");
      this.#plan.scans.give(this.#scan);
    }
    this.#scan = null;
  }
}

const notUtf8 = (): GuardRefusal =>
  uninspectable("not_utf8", "the body is not valid UTF-8").result as GuardRefusal;

/** Opens a streaming guard of a body of `kind` under `plan`. */
export function openGuardStream(
  plan: GuardPlan,
  kind: MediaKind,
  options: GuardStreamOptions = {},
): GuardStream {
  const max = options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  if (!(max >= 1)) throw new RangeError("maxRecordChars must be at least 1");
  return new StreamingGuard(plan, kind, max);
}

/** The whole body at once, with no record cap (it is in memory already). */
export function guardWhole(plan: GuardPlan, text: string, kind: MediaKind): GuardEnd {
  return new StreamingGuard(plan, kind, Number.POSITIVE_INFINITY).all(text);
}
