/**
 * Requests with exact bytes on the wire (fetch and URL parsing would
 * normalise the very tricks under test), and a real local gateway server.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { listen } from "../../functions/local/server.ts";
import type { TestGateway } from "../support/gateway.ts";

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function serve(t: TestGateway): Promise<RunningServer> {
  const server: Server = await listen(t.app, "127.0.0.1", 0);
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = Number.parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export function parseResponse(bytes: Buffer): RawResponse {
  const split = bytes.indexOf("\r\n\r\n");
  const head = bytes.subarray(0, split < 0 ? bytes.length : split).toString("latin1");
  const rest = split < 0 ? Buffer.alloc(0) : bytes.subarray(split + 4);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = Number(statusLine.split(" ")[1] ?? "0");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const chunked = /chunked/i.test(headers["transfer-encoding"] ?? "");
  return { status, headers, body: (chunked ? dechunk(rest) : rest).toString("utf8") };
}

/**
 * Sends `head` (request line and header lines, without the final blank line)
 * and `body` as raw bytes on a fresh connection, and reads the answer until
 * the server closes it.
 */
export function rawRequest(
  port: number,
  head: string | Buffer,
  body: Buffer = Buffer.alloc(0),
): Promise<RawResponse> {
  const headBytes = typeof head === "string" ? Buffer.from(head, "latin1") : head;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(Buffer.concat([headBytes, Buffer.from("\r\n\r\n"), body]));
    });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(parseResponse(Buffer.concat(chunks))));
  });
}

/** A GET with the given raw target and header lines, Connection: close. */
export function rawGet(
  port: number,
  target: string | Buffer,
  headerLines: readonly string[] = [],
  method = "GET",
): Promise<RawResponse> {
  const line = Buffer.concat([
    Buffer.from(`${method} `, "latin1"),
    typeof target === "string" ? Buffer.from(target, "latin1") : target,
    Buffer.from(" HTTP/1.1", "latin1"),
  ]);
  const rest = [`Host: 127.0.0.1:${port}`, ...headerLines, "Connection: close"].join("\r\n");
  return rawRequest(port, Buffer.concat([line, Buffer.from(`\r\n${rest}`, "latin1")]));
}
