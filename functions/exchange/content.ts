/**
 * Turns a body's bytes into text the guard can inspect: undoes one
 * Content-Encoding (identity, gzip, deflate, br) without ever inflating past
 * the cap, then decodes UTF-8 strictly. Anything else is refused, never passed
 * on unread.
 */
import { Buffer, isAscii, isUtf8, transcode } from "node:buffer";
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";

export type DecodeResult =
  | { readonly ok: true; readonly text: string }
  | {
      readonly ok: false;
      readonly detail: "too_large" | "unsupported_encoding" | "bad_encoding" | "not_utf8";
    };

type Inflate = (bytes: Uint8Array, options: { maxOutputLength: number }) => Buffer;

/** zlib-wrapped deflate (RFC 1950), or raw deflate (RFC 1951) as some servers send it. */
const inflateEither: Inflate = (bytes, options) => {
  if (!looksZlibWrapped(bytes)) return inflateRawSync(bytes, options);
  try {
    return inflateSync(bytes, options);
  } catch (e) {
    if (isTooLarge(e)) throw e;
    return inflateRawSync(bytes, options); // a raw stream whose first bytes look like a header
  }
};

const DECODERS: Readonly<Record<string, Inflate>> = {
  gzip: gunzipSync,
  "x-gzip": gunzipSync,
  deflate: inflateEither,
  br: brotliDecompressSync,
};

/** RFC 1950: CM = 8 (deflate), a window of at most 32 KiB, and a header checksum divisible by 31. */
function looksZlibWrapped(bytes: Uint8Array): boolean {
  const cmf = bytes[0];
  const flg = bytes[1];
  if (cmf === undefined || flg === undefined) return false;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && (cmf * 256 + flg) % 31 === 0;
}

/** zlib refuses to grow its output past maxOutputLength with this error, before allocating more. */
const isTooLarge = (e: unknown): boolean =>
  e instanceof RangeError && (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";

/**
 * Strict UTF-8 (what `new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })`
 * accepts, BOM kept): validated by simdutf (`isUtf8`), then decoded in native
 * passes. TextDecoder's fatal mode (ICU in Node 20) and V8's own UTF-8
 * decoding (`toString`) cost about 3 ns a byte once the text is not pure
 * ASCII, about a fifth of parse+print on the exchange path
 * (docs/perf/exchange-repeat.md). The string is of the kind V8 itself would
 * make (one byte a character up to U+00FF, two beyond): the guard reads a
 * one-byte string faster. Both refuse the same bytes: overlong forms,
 * surrogates, code points past U+10FFFF, truncated and stray continuation
 * bytes (test/unit/guard/content.test.ts compares them).
 */
export function decodeUtf8(bytes: Uint8Array): DecodeResult {
  if (!isUtf8(bytes)) return { ok: false, detail: "not_utf8" };
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (isAscii(buf)) return { ok: true, text: buf.toString("latin1") };
    const latin1 = fewLatin1(buf);
    if (typeof latin1 === "string") return { ok: true, text: latin1 };
    // Beyond Latin-1: UTF-16 in one native pass. Large or accent-heavy: V8's own decoding.
    return {
      ok: true,
      text:
        latin1 === BEYOND_LATIN1
          ? transcode(buf, "utf8", "utf16le").toString("utf16le")
          : buf.toString("utf8"),
    };
  } catch {
    // Text longer than a string may be (as TextDecoder failed before).
    return { ok: false, detail: "not_utf8" };
  }
}

/** Bodies up to this size are decoded through a reused buffer (one string, no other garbage). */
const SCRATCH_MAX = 256 * 1024;
let scratch = Buffer.alloc(0);
const BEYOND_LATIN1 = Symbol("beyond Latin-1");

/**
 * Valid UTF-8, mostly ASCII with a few Latin-1 letters (é, ö, ß: lead byte
 * C2 or C3, the only two of U+0080..U+00FF), as Latin-1 in a few native
 * calls: the ASCII runs are copied, each pair becomes its byte. A byte past
 * ASCII outside those pairs (a character beyond U+00FF) is copied as it is
 * and makes the text's UTF-8 longer than the input, which is how the result
 * is checked (BEYOND_LATIN1: the text needs UTF-16). Undefined when the body
 * is large or has many pairs (a native call per letter would cost more).
 */
function fewLatin1(buf: Buffer): string | typeof BEYOND_LATIN1 | undefined {
  const n = buf.length;
  if (n > SCRATCH_MAX) return undefined;
  if (scratch.length < n) scratch = Buffer.allocUnsafeSlow(Math.max(n, 16 * 1024));
  const out = scratch;
  const budget = 16 + (n >> 6);
  let pairs = 0;
  let w = 0;
  let from = 0;
  let c2 = buf.indexOf(0xc2);
  let c3 = buf.indexOf(0xc3);
  for (;;) {
    const at = c2 < 0 ? c3 : c3 < 0 ? c2 : Math.min(c2, c3);
    const end = at < 0 ? n : at;
    if (end > from) w += buf.copy(out, w, from, end);
    if (at < 0) break;
    if (++pairs > budget) return undefined;
    out[w++] = (((buf[at] as number) & 0x1f) << 6) | ((buf[at + 1] as number) & 0x3f);
    from = at + 2;
    if (at === c2) c2 = buf.indexOf(0xc2, from);
    else c3 = buf.indexOf(0xc3, from);
  }
  const text = out.toString("latin1", 0, w);
  return Buffer.byteLength(text, "utf8") === n ? text : BEYOND_LATIN1;
}

/**
 * The text of a body: `contentEncoding` names at most one coding (a list is
 * refused); the decoded bytes may not exceed `maxDecodedBytes`. A byte-order
 * mark is kept (the guard strips it).
 */
export function decodeBody(
  bytes: Uint8Array,
  contentEncoding: string | null | undefined,
  maxDecodedBytes: number,
): DecodeResult {
  const coding = (contentEncoding ?? "").trim().toLowerCase();
  if (coding === "" || coding === "identity") {
    return bytes.length > maxDecodedBytes ? { ok: false, detail: "too_large" } : decodeUtf8(bytes);
  }
  const decode = Object.hasOwn(DECODERS, coding) ? DECODERS[coding] : undefined;
  if (decode === undefined) return { ok: false, detail: "unsupported_encoding" };
  let decoded: Buffer;
  try {
    decoded = decode(bytes, { maxOutputLength: Math.max(1, maxDecodedBytes) });
  } catch (e) {
    return { ok: false, detail: isTooLarge(e) ? "too_large" : "bad_encoding" };
  }
  if (decoded.length > maxDecodedBytes) return { ok: false, detail: "too_large" };
  return decodeUtf8(decoded);
}
