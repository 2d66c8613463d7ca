/**
 * Request validation with zod: issues become a 400 invalid_request naming the
 * field. The same schemas feed the OpenAPI document.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { DuplicateMemberError, parseStrictJson } from "../auth/strict-json.ts";
import { InvalidRequestError } from "../errors.ts";
import { readBodyCapped } from "./middleware.ts";

export const MAX_JSON_BODY_BYTES = 256 * 1024;
/** Deeper than any request body of the API (ODRL documents included). */
const MAX_JSON_DEPTH = 64;

export function toInvalidRequest(error: z.ZodError, prefix = ""): InvalidRequestError {
  const issues = error.issues.map((i) => ({
    field: prefix + (i.path.length === 0 ? "body" : i.path.map(String).join(".")),
    message: i.message,
  }));
  const first = issues[0] ?? { field: prefix || "body", message: "is invalid" };
  return new InvalidRequestError(first.field, first.message, issues);
}

export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix = "",
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw toInvalidRequest(result.error, prefix);
  return result.data;
}

/** Parses a JSON request body (any `application/json` or `+json` type). */
export async function readJson(c: Context, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = c.req.header("Content-Type") ?? "";
  if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new InvalidRequestError("Content-Type", "must be application/json");
  }
  const bytes = await readBodyCapped(c.req.raw, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new InvalidRequestError("body", "is not UTF-8");
  }
  try {
    return parseStrictJson(text, MAX_JSON_DEPTH);
  } catch (err) {
    if (err instanceof DuplicateMemberError)
      throw new InvalidRequestError(err.member, "is named twice in one object");
    if (err instanceof SyntaxError && err.message === "JSON nests too deep")
      throw new InvalidRequestError("body", `nests deeper than ${MAX_JSON_DEPTH} levels`);
    throw new InvalidRequestError("body", "is not valid JSON");
  }
}

/** Reads an optional JSON body: absent or empty means `{}`. */
export async function readOptionalJson(c: Context): Promise<unknown> {
  const length = c.req.header("Content-Length");
  const type = c.req.header("Content-Type");
  if ((length === undefined || length === "0") && type === undefined) return {};
  return readJson(c);
}

export async function readJsonWith<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.output<S>> {
  return parseWith(schema, await readJson(c));
}

export function queryWith<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseWith(schema, c.req.query());
}
