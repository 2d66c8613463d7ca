/**
 * The upstream URL of an exchange: the backend's base URL, the dataset's path,
 * then the caller's subpath, segment by segment. Every segment is checked
 * after full decoding and re-encoded, and the result is asserted to keep the
 * backend's origin and the dataset's path prefix before any call is made.
 */
import { GatewayError, InvalidRequestError } from "../errors.ts";
import { decodeFully } from "../http/raw-path.ts";

export const invalidPath = (why: string) => new GatewayError(400, "invalid_path", why);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const BAD_DECODED = /[\u0000-\u001f\u007f/\\?#]/;

/** Validated, decoded segments of the subpath after `/v1/exchange/{id}`. */
export function subpathSegments(rawSubpath: string): string[] {
  if (rawSubpath === "" || rawSubpath === "/") return [];
  if (!rawSubpath.startsWith("/")) throw invalidPath("the subpath must start with /");
  const raw = rawSubpath.slice(1).split("/");
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i] ?? "";
    if (seg === "" && i === raw.length - 1) break; // a trailing slash
    const decoded = decodeFully(seg);
    if (decoded === null) throw invalidPath("the subpath holds a malformed percent-escape");
    if (decoded === "" || decoded === "." || decoded === "..")
      throw invalidPath("the subpath holds an empty or dot segment");
    if (decoded.includes("%") || BAD_DECODED.test(decoded)) {
      throw invalidPath("the subpath holds an encoded separator, escape or control character");
    }
    out.push(decoded);
  }
  return out;
}

// RFC 3986 query characters plus well-formed percent-escapes.
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

export function checkQuery(rawQuery: string): string {
  if (rawQuery.length > 4096)
    throw new InvalidRequestError("query", "is longer than 4096 characters");
  if (!QUERY.test(rawQuery))
    throw new InvalidRequestError("query", "holds characters a URL query may not hold");
  return rawQuery;
}

/** Builds and checks the upstream URL; throws invalid_path if it would leave the prefix. */
export function upstreamUrl(
  baseUrl: string,
  datasetPath: string,
  segments: readonly string[],
  rawQuery: string,
): URL {
  const base = new URL(baseUrl);
  const prefix = `${base.pathname.replace(/\/+$/, "")}${datasetPath.replace(/\/+$/, "")}`;
  const tail = segments.map((s) => `/${encodeURIComponent(s)}`).join("");
  const url = new URL(`${base.origin}${prefix}${tail}${rawQuery === "" ? "" : `?${rawQuery}`}`);
  const path = url.pathname;
  if (url.origin !== base.origin || url.username !== "" || url.password !== "") {
    throw invalidPath("the upstream URL would leave the backend");
  }
  if (
    !(path === prefix || path.startsWith(`${prefix}/`) || (prefix === "" && path.startsWith("/")))
  ) {
    throw invalidPath("the upstream URL would leave the dataset's path");
  }
  return url;
}
