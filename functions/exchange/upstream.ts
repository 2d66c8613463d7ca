/**
 * Calls to partner backends: node:http(s) with a lookup that refuses
 * non-public addresses at connect time (so DNS cannot be rebound between a
 * check and the call), no redirects, a deadline for headers and body, and a
 * cap on the body read.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { type AddressPolicy, addressProblem, ipLiteral } from "./address.ts";

export interface UpstreamRequest {
  readonly method: "GET" | "POST";
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | undefined;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export type UpstreamResponse =
  | {
      readonly ok: true;
      readonly status: number;
      readonly contentType: string | undefined;
      readonly contentEncoding: string | undefined;
      readonly body: Uint8Array;
    }
  | {
      readonly ok: false;
      readonly kind: "timeout" | "refused_address" | "error" | "too_large";
      readonly message: string;
    };

export type UpstreamTransport = (req: UpstreamRequest) => Promise<UpstreamResponse>;

class AddressRefused extends Error {
  override readonly name = "AddressRefused";
}

function safeLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 4);
      const list = Array.isArray(addresses) ? addresses : [];
      for (const a of list) {
        const problem = addressProblem(a.address, policy);
        if (problem !== null) return callback(new AddressRefused(problem), "", 4);
      }
      const first = list[0];
      if (first === undefined) return callback(new Error(`${hostname} has no address`), "", 4);
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      return callback(null, first.address, first.family);
    });
  };
}

export function createUpstreamTransport(policy: AddressPolicy): UpstreamTransport {
  const lookup = safeLookup(policy);
  const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 256, lookup } as http.AgentOptions),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 256, lookup } as https.AgentOptions),
  };
  return (req) =>
    new Promise((resolve) => {
      const ip = ipLiteral(req.url.hostname);
      const problem = ip === null ? null : addressProblem(ip, policy);
      if (problem !== null)
        return resolve({ ok: false, kind: "refused_address", message: problem });
      const protocol = req.url.protocol === "https:" ? "https:" : "http:";
      const mod = protocol === "https:" ? https : http;
      let settled = false;
      const finish = (r: UpstreamResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const call = mod.request(req.url, {
        method: req.method,
        headers: {
          ...req.headers,
          ...(req.body ? { "Content-Length": String(req.body.byteLength) } : {}),
        },
        agent: agents[protocol],
        lookup,
      });
      const timer = setTimeout(() => {
        finish({
          ok: false,
          kind: "timeout",
          message: `no complete answer within ${req.timeoutMs} ms`,
        });
        call.destroy();
      }, req.timeoutMs);
      call.on("error", (err) =>
        finish(
          err instanceof AddressRefused ||
            (err as { cause?: unknown }).cause instanceof AddressRefused
            ? { ok: false, kind: "refused_address", message: err.message }
            : { ok: false, kind: "error", message: err.message },
        ),
      );
      call.on("response", (res) => {
        const declared = Number(res.headers["content-length"] ?? "0");
        if (declared > req.maxBytes) {
          res.destroy();
          return finish({
            ok: false,
            kind: "too_large",
            message: `the answer declares ${declared} bytes`,
          });
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on("data", (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > req.maxBytes) {
            res.destroy();
            finish({
              ok: false,
              kind: "too_large",
              message: `the answer is over ${req.maxBytes} bytes`,
            });
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (err) => finish({ ok: false, kind: "error", message: err.message }));
        res.on("aborted", () =>
          finish({ ok: false, kind: "error", message: "the answer was cut off" }),
        );
        res.on("end", () => {
          if (!res.complete)
            return finish({ ok: false, kind: "error", message: "the answer was cut off" });
          finish({
            ok: true,
            status: res.statusCode ?? 502,
            contentType: res.headers["content-type"],
            contentEncoding: res.headers["content-encoding"],
            body: Buffer.concat(chunks, total),
          });
        });
      });
      call.end(req.body === undefined ? undefined : Buffer.from(req.body));
    });
}
