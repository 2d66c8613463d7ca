/**
 * A test gateway served over HTTP on loopback, as partners reach a real one,
 * with its issuer set to the URL it is served at.
 */
import type { Server } from "node:http";
import { Hono } from "hono";
import { DEFAULT_SETTINGS, type GatewaySettings } from "../../functions/gateway.ts";
import type { AppEnv } from "../../functions/http/env.ts";
import { freePort } from "../../functions/local/dynamo-local.ts";
import { listen } from "../../functions/local/server.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

export interface ServedGateway {
  readonly t: TestGateway;
  readonly url: string;
  /** Requests the server saw, by path (counted before the gateway answers). */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

export async function serveGateway(
  tokenTtlSeconds = 900,
  settings: Partial<GatewaySettings> = {},
): Promise<ServedGateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t = await createTestGateway({
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: url,
      audience: url,
      localBackends: true,
      tokenTtlSeconds,
      ...settings,
    },
  });
  const hits = new Map<string, number>();
  const counted = new Hono<AppEnv>();
  counted.use("*", async function countRequests(c, next) {
    const path = new URL(c.req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    await next();
  });
  counted.route("/", t.app);
  const server: Server = await listen(counted, "127.0.0.1", port);
  return {
    t,
    url,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
