import { brotliCompressSync, constants, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBody, decodeUtf8 } from "../../../functions/exchange/content.ts";

const TEXT = '\ufeff{"items":[{"vin":"WVW","name":"Chloé 🚗"}]}';
const BYTES = new TextEncoder().encode(TEXT);

describe("decodeBody", () => {
  it.each([
    ["identity", (b: Uint8Array) => b],
    ["gzip", (b: Uint8Array) => gzipSync(b)],
    ["x-gzip", (b: Uint8Array) => gzipSync(b)],
    ["deflate", (b: Uint8Array) => deflateSync(b)],
    ["br", (b: Uint8Array) => brotliCompressSync(b)],
    ["GZIP", (b: Uint8Array) => gzipSync(b)],
  ])("round-trips %s, keeping the BOM for the guard", (coding, encode) => {
    expect(decodeBody(encode(BYTES), coding, 1000)).toEqual({ ok: true, text: TEXT });
  });

  it("takes no coding, an empty one and identity as the bytes themselves", () => {
    for (const coding of [null, undefined, "", " identity "]) {
      expect(decodeBody(BYTES, coding, 1000)).toEqual({ ok: true, text: TEXT });
    }
  });

  it("accepts raw deflate, as some servers send it", () => {
    expect(decodeBody(deflateRawSync(BYTES), "deflate", 1000)).toEqual({ ok: true, text: TEXT });
  });

  it("refuses a zip bomb past the cap, for every coding, and identity bodies over it", () => {
    const zeros = new Uint8Array(16 * 1024 * 1024); // a 16 MiB body that packs to a few KiB
    const cap = 1024 * 1024;
    const fast = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };
    for (const [coding, bomb] of [
      ["gzip", gzipSync(zeros)],
      ["deflate", deflateSync(zeros)],
      ["deflate", deflateRawSync(zeros)],
      ["br", brotliCompressSync(zeros, fast)],
    ] as const) {
      expect(bomb.length).toBeLessThan(cap / 16);
      expect(decodeBody(bomb, coding, cap)).toEqual({ ok: false, detail: "too_large" });
    }
    expect(decodeBody(new Uint8Array(cap + 1), null, cap)).toEqual({
      ok: false,
      detail: "too_large",
    });
  });

  it("accepts a body exactly at the cap", () => {
    expect(decodeBody(gzipSync(BYTES), "gzip", BYTES.length)).toEqual({ ok: true, text: TEXT });
    expect(decodeBody(gzipSync(BYTES), "gzip", BYTES.length - 1)).toEqual({
      ok: false,
      detail: "too_large",
    });
  });

  it("refuses lists of codings and unknown codings", () => {
    for (const coding of [
      "gzip, br",
      "gzip,identity",
      "compress",
      "zstd",
      "x-compress",
      "chunked",
      "toString",
    ]) {
      expect(decodeBody(gzipSync(BYTES), coding, 1000)).toEqual({
        ok: false,
        detail: "unsupported_encoding",
      });
    }
  });

  it("refuses data that is not in the coding it claims", () => {
    expect(decodeBody(BYTES, "gzip", 1000)).toEqual({ ok: false, detail: "bad_encoding" });
    expect(decodeBody(BYTES, "br", 1000)).toEqual({ ok: false, detail: "bad_encoding" });
    expect(decodeBody(new Uint8Array([0x78, 0x9c, 1, 2, 3]), "deflate", 1000)).toEqual({
      ok: false,
      detail: "bad_encoding",
    });
    expect(decodeBody(gzipSync(BYTES).subarray(0, 20), "gzip", 1000)).toEqual({
      ok: false,
      detail: "bad_encoding",
    });
  });

  it("decodes UTF-8 strictly", () => {
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x7b, 0x80, 0x7d]]) {
      expect(decodeBody(new Uint8Array(bad), null, 1000)).toEqual({
        ok: false,
        detail: "not_utf8",
      });
      expect(decodeBody(gzipSync(new Uint8Array(bad)), "gzip", 1000)).toEqual({
        ok: false,
        detail: "not_utf8",
      });
    }
  });

  it("keeps a BOM, alone or repeated, and takes an empty body as empty text", () => {
    for (const text of ["\ufeff", "\ufeff\ufeffx", "", "x\ufeff"]) {
      expect(decodeBody(new TextEncoder().encode(text), null, 1000)).toEqual({ ok: true, text });
    }
  });
});

/** The reference: what the gateway decoded with before (WHATWG strict UTF-8, BOM kept). */
const reference = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function referenceDecode(bytes: Uint8Array) {
  try {
    return { ok: true, text: reference.decode(bytes) };
  } catch {
    return { ok: false, detail: "not_utf8" };
  }
}

describe("decodeUtf8 (simdutf validation, then decoding)", () => {
  const cases: Record<string, number[]> = {
    "lone continuation": [0x80],
    "stray continuation after ASCII": [0x61, 0xbf, 0x62],
    "overlong NUL (2 bytes)": [0xc0, 0x80],
    "overlong slash (2 bytes)": [0xc1, 0xbf],
    "overlong (3 bytes)": [0xe0, 0x80, 0xaf],
    "overlong (4 bytes)": [0xf0, 0x8f, 0xbf, 0xbf],
    "high surrogate": [0xed, 0xa0, 0x80],
    "low surrogate": [0xed, 0xbf, 0xbf],
    "surrogate pair as CESU-8": [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
    "past U+10FFFF": [0xf4, 0x90, 0x80, 0x80],
    "F5 lead byte": [0xf5, 0x80, 0x80, 0x80],
    "FE and FF": [0xfe, 0xff],
    "truncated 2-byte": [0x61, 0xc3],
    "truncated 3-byte": [0xe2, 0x82],
    "truncated 4-byte": [0xf0, 0x9f, 0x9a],
    "truncated then ASCII": [0xf0, 0x9f, 0x41],
    "BOM then invalid": [0xef, 0xbb, 0xbf, 0xff],
    "half a BOM": [0xef, 0xbb],
    "largest code point": [0xf4, 0x8f, 0xbf, 0xbf],
    "last before the surrogates": [0xed, 0x9f, 0xbf],
    "first after the surrogates": [0xee, 0x80, 0x80],
    "noncharacters U+FFFE and U+FFFF": [0xef, 0xbf, 0xbe, 0xef, 0xbf, 0xbf],
    BOM: [0xef, 0xbb, 0xbf, 0x7b, 0x7d],
    NUL: [0x00, 0x7b, 0x00],
  };
  it.each(Object.entries(cases))("%s: as TextDecoder decides", (_, bytes) => {
    const input = new Uint8Array(bytes);
    expect(decodeUtf8(input)).toEqual(referenceDecode(input));
  });

  it("refuses each invalid sequence at any position of a long body (the vectorised path)", () => {
    const filler = new TextEncoder().encode(`{"k":"${"aé🚗".repeat(40)}"}`);
    for (const bad of [
      [0xc0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      for (const at of [0, 1, 15, 16, 31, 32, 63, 64, 65, filler.length]) {
        const bytes = new Uint8Array(filler.length + bad.length);
        bytes.set(filler.subarray(0, at));
        bytes.set(bad, at);
        bytes.set(filler.subarray(at), at + bad.length);
        expect(decodeUtf8(bytes)).toEqual({ ok: false, detail: "not_utf8" });
      }
    }
  });

  it("decodes ASCII, Latin-1 and text beyond it exactly as TextDecoder, long bodies too", () => {
    for (const unit of [
      '{"a":"b"}',
      '{"city":"Malmö","q":"?"}',
      '{"c1":"\u0080\u009f\u00ff","q":"??"}',
      '{"car":"🚗","z":"\u0000\u2028"}',
      '{"q":"?","euro":"€"}',
      '{"q":"é?","last":"\uffff"}',
    ]) {
      // With a BOM and without; a few accents, many, and past the reused buffer's size.
      for (const [prefix, copies] of [
        ["\ufeff", 800],
        ["", 800],
        ["", 30_000],
      ] as const) {
        const bytes = new TextEncoder().encode(`${prefix}[${Array(copies).fill(unit).join(",")}]`);
        const decoded = decodeUtf8(bytes);
        expect(decoded).toEqual(referenceDecode(bytes));
        expect(decoded.ok).toBe(true);
      }
    }
    // Latin-1 letters sparse, then dense (the converter takes over), then one beyond Latin-1 at the end.
    for (const every of [400, 3, 1]) {
      const text = Array.from({ length: 4000 }, (_, i) => (i % every === 0 ? "é" : "a")).join("");
      for (const tail of ["", "€", "ä\u200b"]) {
        const bytes = new TextEncoder().encode(text + tail);
        expect(decodeUtf8(bytes)).toEqual({ ok: true, text: text + tail });
      }
    }
  });

  it("decodes a view into a larger buffer, and a Buffer, from their own bytes only", () => {
    const inner = new TextEncoder().encode('{"a":"é"}');
    const raw = new Uint8Array(inner.length + 2);
    raw.set([0xff], 0);
    raw.set(inner, 1);
    raw.set([0xff], raw.length - 1);
    const view = raw.subarray(1, raw.length - 1);
    expect(decodeUtf8(view)).toEqual({ ok: true, text: '{"a":"é"}' });
    expect(decodeUtf8(Buffer.from('\ufeff{"a":1}'))).toEqual({ ok: true, text: '\ufeff{"a":1}' });
  });

  it("agrees with TextDecoder on text of Latin-1, question marks, BOMs and beyond", () => {
    const char = fc.oneof(
      fc.constantFrom(
        "?",
        "\ufeff",
        "€",
        "🚗",
        "\u0000",
        "\u0080",
        "\u00ad",
        "\u00ff",
        "\u0100",
        "\u034f",
        "\u200b",
        "\u200d",
        "\u2060",
        "\ufe0f",
        "\ufffd",
        "\u{e0001}",
      ),
      fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0x100, max: 0xd7ff }).map((c) => String.fromCharCode(c)),
    );
    fc.assert(
      fc.property(fc.array(char, { maxLength: 60 }), fc.nat({ max: 300 }), (chars, pad) => {
        const text = "a".repeat(pad % 7 === 0 ? pad : 0) + chars.join("");
        const bytes = new TextEncoder().encode(text);
        const decoded = decodeUtf8(bytes);
        expect(decoded).toEqual(referenceDecode(bytes));
        expect(decoded).toEqual({ ok: true, text });
      }),
      { numRuns: 5000 },
    );
  });

  it("agrees with TextDecoder on arbitrary bytes and on valid text with bytes changed", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(decodeUtf8(bytes)).toEqual(referenceDecode(bytes));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 80 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 3 }),
        (text, changes) => {
          const bytes = new TextEncoder().encode(text);
          for (const [at, byte] of changes) if (bytes.length > 0) bytes[at % bytes.length] = byte;
          expect(decodeUtf8(bytes)).toEqual(referenceDecode(bytes));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
