/**
 * A provider's answer as a stream, for read transfers: the same transport
 * rules as an exchange (functions/exchange/upstream.ts: a lookup that refuses
 * non-public addresses at connect time, no redirects, http only locally), but
 * the body is handed on as it arrives instead of being buffered. A deadline
 * covers the headers, and then every gap between chunks: a backend that stops
 * sending fails the stream, it never hangs a worker.
 */
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import type { AddressPolicy } from "../exchange/address.ts";
import { safeLookup } from "../exchange/upstream.ts";

export type SourceAnswer =
  | {
      readonly ok: true;
      readonly status: number;
      readonly contentType: string | undefined;
      readonly contentEncoding: string | undefined;
      readonly body: Readable;
    }
  | { readonly ok: false; readonly kind: "timeout" | "refused_address" | "error" };

export class SourceStalled extends Error {
  override readonly name = "SourceStalled";
}

export function openSource(
  policy: AddressPolicy,
  url: URL,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<SourceAnswer> {
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowLoopback))
    return Promise.resolve({ ok: false, kind: "refused_address" });
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (a: SourceAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const call = mod.request(url, { method: "GET", headers, lookup: safeLookup(policy) });
    const timer = setTimeout(() => {
      finish({ ok: false, kind: "timeout" });
      call.destroy();
    }, timeoutMs);
    call.on("error", (err) =>
      finish({ ok: false, kind: err.name === "AddressRefused" ? "refused_address" : "error" }),
    );
    call.on("response", (res) => {
      // Every gap between chunks gets the same deadline as the headers.
      res.setTimeout(timeoutMs, () =>
        res.destroy(new SourceStalled("the backend stopped sending")),
      );
      res.on("aborted", () => res.destroy(new Error("the answer was cut off")));
      res.on("close", () => {
        if (!res.complete && !res.destroyed) res.destroy(new Error("the answer was cut off"));
      });
      finish({
        ok: true,
        status: res.statusCode ?? 502,
        contentType: res.headers["content-type"],
        contentEncoding: res.headers["content-encoding"],
        body: res,
      });
    });
    call.end();
  });
}
