import { brotliCompressSync, constants, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeBody } from "../../../functions/exchange/content.ts";

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
});
