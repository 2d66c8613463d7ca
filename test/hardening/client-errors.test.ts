/** What node's HTTP parser refuses itself still answers as problem details with a request id. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestGateway } from "../support/gateway.ts";
import { type RunningServer, rawRequest, serve } from "./raw-http.ts";

let server: RunningServer;

beforeAll(async () => {
  server = await serve(await createTestGateway());
});
afterAll(() => server.close());

describe("requests the HTTP parser refuses", () => {
  it.each([
    [
      "a control byte in the target",
      "GET /a\u0001b HTTP/1.1\r\nHost: x\r\n\r\n",
      400,
      "invalid_request",
    ],
    [
      "a NUL in a header value",
      "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n",
      400,
      "invalid_request",
    ],
    [
      "headers over 16 KB",
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      431,
      "headers_too_large",
    ],
  ])("%s", async (_what, raw, status, code) => {
    const res = await rawRequest(server.port, raw);
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(res.headers["x-request-id"]).toBeTruthy();
    expect(JSON.parse(res.body)).toMatchObject({ status, code });
  });
});
