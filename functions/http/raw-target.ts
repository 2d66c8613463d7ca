/** The request target exactly as received, from whichever adapter ran. */
import type { Context } from "hono";

interface RawBindings {
  rawTarget?: string;
  incoming?: { url?: string };
  event?: { rawPath?: string; rawQueryString?: string };
}

export function rawTargetOf(c: Context): string {
  const env = (c.env ?? {}) as RawBindings;
  if (typeof env.rawTarget === "string") return env.rawTarget;
  if (typeof env.incoming?.url === "string") return env.incoming.url;
  if (typeof env.event?.rawPath === "string") {
    const q = env.event.rawQueryString ?? "";
    return q === "" ? env.event.rawPath : `${env.event.rawPath}?${q}`;
  }
  const url = new URL(c.req.url);
  return `${url.pathname}${url.search}`;
}
