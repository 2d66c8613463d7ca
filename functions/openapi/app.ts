/**
 * GET /openapi.json (the OpenAPI 3.1 document of every route) and GET /docs
 * (the same document as a self-contained web page). Both are public and built
 * once; only `servers` follows the origin the caller used.
 */
import { Hono } from "hono";
import { LRUCache } from "lru-cache";
import type { AppEnv } from "../http/env.ts";
import { documentFor } from "./document.ts";
import { renderDocs } from "./html.ts";

/** The page's inline styles only: no script, no other resource, no framing, no form posts. */
export const DOCS_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Origins are few in practice; the cap keeps a stream of made-up Host headers cheap. */
const MAX_ORIGINS = 16;

export function openapiApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const json = new LRUCache<string, string>({ max: MAX_ORIGINS });
  const html = new LRUCache<string, string>({ max: MAX_ORIGINS });

  const cached = (cache: LRUCache<string, string>, origin: string, make: () => string) => {
    let text = cache.get(origin);
    if (text === undefined) {
      text = make();
      cache.set(origin, text);
    }
    return text;
  };

  app.get("/openapi.json", (c) => {
    const origin = new URL(c.req.url).origin;
    const body = cached(json, origin, () => JSON.stringify(documentFor(origin)));
    return c.body(body, 200, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-cache",
      "Access-Control-Allow-Origin": "*",
      "X-Content-Type-Options": "nosniff",
    });
  });

  app.get("/docs", (c) => {
    const origin = new URL(c.req.url).origin;
    const body = cached(html, origin, () => renderDocs(documentFor(origin)));
    return c.body(body, 200, {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": DOCS_CSP,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    });
  });

  return app;
}
