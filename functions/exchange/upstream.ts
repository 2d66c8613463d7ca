/**
 * Calls to partner backends: node:http(s) with a lookup that refuses
 * non-public addresses at connect time (so DNS cannot be rebound between a
 * check and the call), no redirects, a deadline for headers and body, and a
 * cap on the body read. Every failure resolves to an answer with a `kind`;
 * nothing here throws, and nothing partial is ever returned as `ok`.
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

type Attempt =
  | Extract<UpstreamResponse, { ok: true }>
  | (Extract<UpstreamResponse, { ok: false }> & { readonly staleSocket?: boolean });

const strip = (a: Attempt): UpstreamResponse => {
  if (a.ok || !("staleSocket" in a)) return a;
  const { staleSocket: _stale, ...rest } = a;
  return rest;
};

export type UpstreamTransport = (req: UpstreamRequest) => Promise<UpstreamResponse>;

/** The resolver the transport asks (node's dns.lookup unless a test injects one). */
export type DnsLookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface TransportOptions {
  readonly lookup?: DnsLookup | undefined;
}

class AddressRefused extends Error {
  override readonly name = "AddressRefused";
}

const nodeLookup: DnsLookup = (hostname, options, callback) =>
  dnsLookup(hostname, options, callback);

/**
 * A `lookup` for sockets that resolves every address of the name and refuses
 * the connection if any of them is not allowed.
 */
export function safeLookup(policy: AddressPolicy, resolve: DnsLookup = nodeLookup): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === "number" ? options.family : undefined;
    resolve(hostname, { all: true, ...(family ? { family } : {}) }, (err, addresses) => {
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

/** Why `url` may not be called under `policy` before any lookup, or null. */
function urlProblem(url: URL, policy: AddressPolicy): string | null {
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return `${url.protocol} is not http(s)`;
  if (url.protocol === "http:" && !policy.allowLoopback)
    return "plain http is only allowed locally";
  if (url.username !== "" || url.password !== "") return "the URL carries credentials";
  const ip = ipLiteral(url.hostname);
  return ip === null ? null : addressProblem(ip, policy);
}

export function createUpstreamTransport(
  policy: AddressPolicy,
  options: TransportOptions = {},
): UpstreamTransport {
  const lookup = safeLookup(policy, options.lookup);
  const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 256, lookup } as http.AgentOptions),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 256, lookup } as https.AgentOptions),
  };
  const once = (req: UpstreamRequest): Promise<Attempt> =>
    new Promise((resolve) => {
      const problem = urlProblem(req.url, policy);
      if (problem !== null)
        return resolve({ ok: false, kind: "refused_address", message: problem });
      const protocol = req.url.protocol === "https:" ? "https:" : "http:";
      const mod = protocol === "https:" ? https : http;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      // Settle first, then tear down: destroying a response emits `aborted`
      // synchronously, which would otherwise settle as a cut-off answer.
      const finish = (r: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      let call: http.ClientRequest;
      try {
        call = mod.request(req.url, {
          method: req.method,
          headers: {
            ...req.headers,
            ...(req.body ? { "Content-Length": String(req.body.byteLength) } : {}),
          },
          agent: agents[protocol],
          lookup,
        });
      } catch (err) {
        // An invalid header or path: the request was never sent.
        return finish({ ok: false, kind: "error", message: (err as Error).message });
      }
      timer = setTimeout(() => {
        finish({
          ok: false,
          kind: "timeout",
          message: `no complete answer within ${req.timeoutMs} ms`,
        });
        call.destroy();
      }, req.timeoutMs);
      let responded = false;
      call.on("error", (err: NodeJS.ErrnoException) =>
        finish(
          err instanceof AddressRefused ||
            (err as { cause?: unknown }).cause instanceof AddressRefused
            ? { ok: false, kind: "refused_address", message: err.message }
            : {
                ok: false,
                kind: "error",
                message: err.message,
                // A kept-alive socket the backend had already closed: nothing was answered.
                staleSocket:
                  !responded &&
                  call.reusedSocket &&
                  (err.code === "ECONNRESET" || err.code === "EPIPE"),
              },
        ),
      );
      call.on("response", (res) => {
        responded = true;
        const cutOff = () =>
          finish({ ok: false, kind: "error", message: "the answer was cut off" });
        const declared = Number(res.headers["content-length"] ?? "0");
        if (declared > req.maxBytes) {
          finish({
            ok: false,
            kind: "too_large",
            message: `the answer declares ${declared} bytes`,
          });
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on("data", (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > req.maxBytes) {
            finish({
              ok: false,
              kind: "too_large",
              message: `the answer is over ${req.maxBytes} bytes`,
            });
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (err) => finish({ ok: false, kind: "error", message: err.message }));
        res.on("aborted", cutOff);
        res.on("close", () => {
          if (!res.complete) cutOff();
        });
        res.on("end", () => {
          if (!res.complete) return cutOff();
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
  // A GET that met a stale kept-alive socket is tried once more on a fresh
  // one, within what is left of its deadline.
  return async (req) => {
    const started = Date.now();
    const first = await once(req);
    if (first.ok || first.staleSocket !== true || req.method !== "GET") return strip(first);
    const left = req.timeoutMs - (Date.now() - started);
    if (left <= 0) return strip(first);
    return strip(await once({ ...req, timeoutMs: left }));
  };
}
