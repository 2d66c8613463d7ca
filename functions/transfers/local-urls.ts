/**
 * Locally, transfer URLs point at the gateway (`/local-objects/...`), not at
 * the embedded S3-compatible server, which checks no signatures. This route
 * checks them as S3 would: it presigns the same request again with the SDK
 * (same key, method, content type, date and lifetime) and compares the
 * result with what was sent in constant time, refuses an expired URL, and
 * only then streams the object from the store (GET) or into it (PUT). A
 * signature, expiry or key that was altered is refused (403 url_refused).
 * In AWS the URLs are S3's own and this route is not mounted.
 */
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { type Context, Hono } from "hono";
import type { Surface } from "../app.ts";
import { sameBytes } from "../auth/secrets.ts";
import { GatewayError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { rawTargetOf } from "../http/raw-target.ts";
import { DEFAULT_TRANSFER_MAX_BYTES } from "./limits.ts";
import type { S3TransferStorage } from "./s3-storage.ts";

export const LOCAL_OBJECTS_PATH = "/local-objects";
/** The longest lifetime a presigned URL may name (S3's: 7 days). */
const MAX_EXPIRES = 7 * 24 * 3600;
/** How far in the future a URL's date may be (clock skew). */
const SKEW_MS = 5 * 60_000;

const refused = (why: string) => new GatewayError("url_refused", why);

/** The route, as a surface the local server (and tests serving real HTTP) add. */
export function localObjectsSurface(
  storage: S3TransferStorage,
  clock: () => Date,
  maxBytes = DEFAULT_TRANSFER_MAX_BYTES,
): Surface {
  return {
    name: "local-objects",
    mount(app) {
      app.route("/", localObjectsApp(storage, clock, maxBytes));
    },
  };
}

export function localObjectsApp(
  storage: S3TransferStorage,
  clock: () => Date,
  maxBytes: number,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(`${LOCAL_OBJECTS_PATH}/*`, async (c) => {
    const key = await verified(c, storage, clock, "GetObject");
    const object = await storage.open(key);
    if (object === undefined) throw new GatewayError("not_found", "no such object");
    return new Response(Readable.toWeb(object.body) as ReadableStream, {
      status: 200,
      headers: {
        "Content-Type": object.contentType ?? "application/octet-stream",
        "Content-Length": String(object.size),
        "Cache-Control": "no-store",
      },
    });
  });
  app.put(`${LOCAL_OBJECTS_PATH}/*`, async (c) => {
    const key = await verified(c, storage, clock, "PutObject");
    const declared = Number(c.req.header("Content-Length") ?? "0");
    if (declared > maxBytes)
      throw new GatewayError("payload_too_large", "the body is over the cap");
    const raw = c.req.raw.body;
    const body = raw === null ? Readable.from([]) : Readable.fromWeb(raw as WebReadableStream);
    let seen = 0;
    const capped = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > maxBytes)
          done(new GatewayError("payload_too_large", "the body is over the cap"));
        else done(null, chunk);
      },
    });
    body.on("error", (e) => capped.destroy(e));
    body.pipe(capped);
    await storage.write(key, capped, c.req.header("Content-Type") ?? "application/octet-stream");
    return c.body(null, 200);
  });
  return app;
}

/** The object key a URL names, once its signature and expiry hold. */
async function verified(
  c: Context<AppEnv>,
  storage: S3TransferStorage,
  clock: () => Date,
  operation: "GetObject" | "PutObject",
): Promise<string> {
  const target = rawTargetOf(c);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
  const prefix = `${LOCAL_OBJECTS_PATH}/${storage.bucket}/`;
  if (!path.startsWith(prefix)) throw refused("the URL names another bucket");
  let key: string;
  try {
    key = path.slice(prefix.length).split("/").map(decodeURIComponent).join("/");
  } catch {
    throw refused("the URL's key is not well-formed");
  }
  if (query.get("x-id") !== operation) throw refused("the URL is for another operation");
  const date = parseAmzDate(query.get("X-Amz-Date") ?? "");
  const expires = Number(query.get("X-Amz-Expires") ?? "");
  if (date === null || !Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES)
    throw refused("the URL's date or lifetime is not well-formed");
  const now = clock().getTime();
  if (date.getTime() - SKEW_MS > now) throw refused("the URL is dated in the future");
  if (date.getTime() + expires * 1000 <= now) throw refused("the URL expired");
  const expected =
    operation === "GetObject"
      ? await storage.presignGet(key, expires, date)
      : (await storage.presignPut(key, c.req.header("Content-Type") ?? "", expires, date)).url;
  const want = new URL(expected);
  const wanted = Buffer.from(`${want.pathname}${want.search}`);
  const sent = Buffer.from(target);
  if (!sameBytes(wanted, sent)) throw refused("the URL's signature does not match it");
  return key;
}

/** `20261202T095429Z` → a Date, or null. */
function parseAmzDate(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return null;
  const [, y, mo, d, h, mi, se] = m;
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  return Number.isNaN(t) ? null : new Date(t);
}
