/**
 * The upstream URL of an exchange: the backend's base URL, the dataset's path,
 * then the caller's subpath, segment by segment. Every segment is checked
 * after full decoding (and again after Unicode compatibility folding, which
 * some backends apply: `．．` is `..` to them) and re-encoded, and the result
 * is asserted to keep the backend's origin and the dataset's path prefix
 * before any call is made.
 *
 * Refused in a segment, beyond separators and controls: `@` and `:` (userinfo,
 * port and scheme lookalikes; identifiers that need them belong in the query),
 * and any segment that is only dots and spaces, alone or before a `;` path
 * parameter (`..;`, `.. `, `...`), which servers such as Tomcat or Windows
 * still resolve as a dot segment.
 */
import { GatewayError, InvalidRequestError } from "../errors.ts";
import { decodeFully } from "../http/raw-path.ts";

export const invalidPath = (why: string) => new GatewayError("invalid_path", why);

/** Separators, escapes, authority characters and every Unicode control character. */
const BAD_DECODED = /[\p{Cc}/\\?#%@:]/u;
/** Only dots and white space: a dot segment to some backend. */
const DOTS_ONLY = /^[\s.]+$/u;
export const MAX_SUBPATH_SEGMENTS = 32;
export const MAX_SEGMENT_CHARS = 256;

function segmentProblem(decoded: string): string | null {
  for (const form of [decoded, decoded.normalize("NFKC")]) {
    if (BAD_DECODED.test(form))
      return "the subpath holds an encoded separator, escape, authority or control character";
    const beforeParams = form.split(";", 1)[0] ?? "";
    if (DOTS_ONLY.test(beforeParams) || DOTS_ONLY.test(form))
      return "the subpath holds a dot segment";
  }
  return null;
}

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
    if (decoded.length > MAX_SEGMENT_CHARS)
      throw invalidPath(`a subpath segment is longer than ${MAX_SEGMENT_CHARS} characters`);
    const problem = segmentProblem(decoded);
    if (problem !== null) throw invalidPath(problem);
    out.push(decoded);
    if (out.length > MAX_SUBPATH_SEGMENTS)
      throw invalidPath(`the subpath has more than ${MAX_SUBPATH_SEGMENTS} segments`);
  }
  return out;
}

// RFC 3986 query characters plus well-formed percent-escapes.
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
/** Escapes of C0 controls and DEL, and of C1 controls as UTF-8 (C2 80 to C2 9F). */
const ENCODED_CONTROL = /%(?:[01][0-9A-Fa-f]|7[Ff])|%[Cc]2%[89][0-9A-Fa-f]/;

export function checkQuery(rawQuery: string): string {
  if (rawQuery.length > 4096)
    throw new InvalidRequestError("query", "is longer than 4096 characters");
  if (!QUERY.test(rawQuery))
    throw new InvalidRequestError("query", "holds characters a URL query may not hold");
  if (ENCODED_CONTROL.test(rawQuery))
    throw new InvalidRequestError("query", "holds an encoded control character");
  return rawQuery;
}

/**
 * Upstream URLs checked before, by what they were built from: a flow calls
 * the same few URLs again and again, and building and checking one parses
 * two URLs. Only URLs that passed the checks are kept (their text: every
 * call gets a URL object of its own).
 */
const checked = new Map<string, string>();
const MAX_CHECKED = 1000;

/** Builds and checks the upstream URL; throws invalid_path if it would leave the prefix. */
export function upstreamUrl(
  baseUrl: string,
  datasetPath: string,
  segments: readonly string[],
  rawQuery: string,
): URL {
  const tail =
    segments.length === 0 ? "" : segments.map((s) => `/${encodeURIComponent(s)}`).join("");
  // Lengths first: no part can pass for another.
  const id = `${baseUrl.length}:${datasetPath.length}:${tail.length}:${baseUrl}${datasetPath}${tail}${rawQuery}`;
  const known = checked.get(id);
  if (known !== undefined) return new URL(known);
  const url = buildUpstreamUrl(baseUrl, datasetPath, tail, rawQuery);
  if (checked.size >= MAX_CHECKED) checked.clear();
  checked.set(id, url.href);
  return url;
}

function buildUpstreamUrl(
  baseUrl: string,
  datasetPath: string,
  tail: string,
  rawQuery: string,
): URL {
  const base = new URL(baseUrl);
  const prefix = `${base.pathname.replace(/\/+$/, "")}${datasetPath.replace(/\/+$/, "")}`;
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
