/**
 * upstreamUrl keeps the URLs it checked before (by what they were built
 * from): a repeat answers the same URL as a URL object of its own, and a
 * refusal is never kept.
 */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../functions/errors.ts";
import { upstreamUrl } from "../../../functions/exchange/path.ts";

describe("upstreamUrl, built again or from the checked ones", () => {
  it("answers the same URL each time, as a new object nobody else holds", () => {
    const first = upstreamUrl("https://b.example/api/", "/ds", ["VIN 1", "café"], "q=1");
    const second = upstreamUrl("https://b.example/api/", "/ds", ["VIN 1", "café"], "q=1");
    expect(second.href).toBe("https://b.example/api/ds/VIN%201/caf%C3%A9?q=1");
    expect(second.href).toBe(first.href);
    expect(second).not.toBe(first);
    first.pathname = "/elsewhere";
    expect(upstreamUrl("https://b.example/api/", "/ds", ["VIN 1", "café"], "q=1").href).toBe(
      "https://b.example/api/ds/VIN%201/caf%C3%A9?q=1",
    );
  });

  it("tells apart inputs whose parts only add up to the same text", () => {
    const a = upstreamUrl("https://b.example/a", "/b", [], "");
    const b = upstreamUrl("https://b.example", "/a/b", [], "");
    const c = upstreamUrl("https://b.example/a", "", ["b"], "");
    expect([a.href, b.href, c.href]).toEqual([
      "https://b.example/a/b",
      "https://b.example/a/b",
      "https://b.example/a/b",
    ]);
    // The same text, checked against different prefixes: one passes, the other climbs out.
    expect(upstreamUrl("https://b.example/x/..", "", [], "").pathname).toBe("/");
    expect(() => upstreamUrl("https://b.example/x", "/..", [], "")).toThrow(GatewayError);
    expect(upstreamUrl("https://b.example/a", "/b", ["c"], "x=1").href).toBe(
      "https://b.example/a/b/c?x=1",
    );
    expect(upstreamUrl("https://b.example/a", "/b", [], "").pathname).toBe("/a/b");
  });

  it("refuses an escape every time: a refusal is not kept", () => {
    for (let i = 0; i < 3; i++) {
      expect(() => upstreamUrl("https://b.example/api", "/ds", [".."], "")).toThrow(GatewayError);
    }
  });

  it("stays correct past its bound", () => {
    for (let i = 0; i < 2500; i++) {
      expect(upstreamUrl("https://b.example", "/ds", [`r${i}`], "").pathname).toBe(`/ds/r${i}`);
    }
    expect(upstreamUrl("https://b.example", "/ds", ["r7"], "").pathname).toBe("/ds/r7");
  });
});
