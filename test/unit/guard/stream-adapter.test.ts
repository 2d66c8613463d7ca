/**
 * The Node adapter of the streaming guard (functions/transfers): gunzip,
 * the decoded-size cap and the guard over a real stream of chunks, answering
 * how it ended as data.
 */
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { guardBody } from "../../../functions/transfers/guard-stream.ts";
import { guardPayload } from "../../../policies/guard/index.ts";
import { plan } from "./plans.ts";

const ndjson = (n: number, last = "") =>
  `${Array.from({ length: n }, (_, i) => `{"vin":"V${i}é","mileage":${i},"engine":{"calibration":"c"}}`).join("\n")}\n${last}`;

/** `bytes` as a source of chunks of `size` bytes, one tick apart. */
async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) {
    await new Promise((r) => setImmediate(r));
    yield bytes.subarray(at, at + size);
  }
}

async function read(body: Readable): Promise<{ text: string; error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const part of body) parts.push(part as Buffer);
    return { text: Buffer.concat(parts).toString("utf8"), error: null };
  } catch (error) {
    return { text: Buffer.concat(parts).toString("utf8"), error };
  }
}

describe("guardBody", () => {
  it("gunzips and cuts a body arriving in small chunks, as the buffered guard would", async () => {
    const text = ndjson(2000);
    const expected = guardPayload(plan(), text, "ndjson");
    if (!expected.ok) throw new Error("the test body must pass");
    const g = guardBody(chunks(gzipSync(text), 997), plan(), "ndjson", {
      contentEncoding: "gzip",
      maxDecodedBytes: 10 * 1024 * 1024,
    });
    const [out, done] = await Promise.all([read(g.body), g.done]);
    expect(out).toEqual({ text: expected.body, error: null });
    expect(done).toEqual({
      ok: true,
      records: 2000,
      decodedBytes: Buffer.byteLength(text),
      outBytes: Buffer.byteLength(expected.body),
    });
  });

  it("takes an identity body from a Readable", async () => {
    const g = guardBody(Readable.from([Buffer.from('{"vin":"A"}\n')]), plan(), "ndjson", {
      maxDecodedBytes: 100,
    });
    expect((await read(g.body)).text).toBe('{"vin":"A"}\n');
    expect(await g.done).toMatchObject({ ok: true, records: 1 });
  });

  it("refuses the whole body for a marker in its last record, and the body stream errors", async () => {
    const g = guardBody(
      chunks(Buffer.from(ndjson(500, '{"vin":"CAL-123456"}\n')), 4096),
      plan(),
      "ndjson",
      {
        maxDecodedBytes: 10 * 1024 * 1024,
      },
    );
    const [out, done] = await Promise.all([read(g.body), g.done]);
    expect(out.error).toMatchObject({ name: "GuardStreamError" });
    expect(done).toEqual({
      ok: false,
      failure: {
        kind: "refused",
        refusal: { ok: false, reason: "leak", rule: "core_marker", marker: 0, path: "vin" },
      },
    });
  });

  it("stops a zip bomb at the decoded cap", async () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20)); // 16 MiB of spaces, a few KiB packed
    expect(bomb.length).toBeLessThan(64 * 1024);
    const g = guardBody(chunks(bomb, 65536), plan(), "ndjson", {
      contentEncoding: "gzip",
      maxDecodedBytes: 1024 * 1024,
    });
    const [, done] = await Promise.all([read(g.body), g.done]);
    expect(done).toEqual({
      ok: false,
      failure: { kind: "too_large", maxDecodedBytes: 1024 * 1024 },
    });
  });

  it("answers bad_encoding for a body that is not gzip, and refuses other codings", async () => {
    const bad = guardBody(chunks(Buffer.from(ndjson(3)), 5), plan(), "ndjson", {
      contentEncoding: "gzip",
      maxDecodedBytes: 1000,
    });
    const [, done] = await Promise.all([read(bad.body), bad.done]);
    expect(done).toEqual({ ok: false, failure: { kind: "bad_encoding" } });
    const br = guardBody(chunks(Buffer.from(ndjson(3)), 5), plan(), "ndjson", {
      contentEncoding: "br",
      maxDecodedBytes: 1000,
    });
    expect(await br.done).toEqual({ ok: false, failure: { kind: "unsupported_encoding" } });
    expect((await read(br.body)).error).toMatchObject({ name: "GuardStreamError" });
  });

  it("answers source_error when the source fails mid-body", async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"vin":"A"}\n');
      throw new Error("socket hang up");
    }
    const g = guardBody(broken(), plan(), "ndjson", { maxDecodedBytes: 1000 });
    const [, done] = await Promise.all([read(g.body), g.done]);
    expect(done).toMatchObject({ ok: false, failure: { kind: "source_error" } });
  });
});
