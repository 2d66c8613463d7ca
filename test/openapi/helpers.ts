/** What the OpenAPI tests share: the served document, its operations, and calls made from them. */
import type { TestGateway } from "../support/gateway.ts";
import { resolvePointer, type Schema, Validator } from "./json-schema.ts";

export const METHODS = ["get", "post", "put", "patch", "delete"] as const;

export interface Operation {
  readonly method: (typeof METHODS)[number];
  readonly path: string;
  readonly op: Schema & {
    operationId: string;
    security?: Record<string, string[]>[];
    parameters?: Parameter[];
    requestBody?: {
      required?: boolean;
      content: Record<string, { schema: Schema; example?: unknown }>;
    };
    responses: Record<string, Schema>;
  };
}

export interface Parameter {
  readonly name: string;
  readonly in: "path" | "query" | "header";
  readonly required: boolean;
  readonly schema: Schema;
  readonly description?: string;
}

export type Doc = Schema & {
  openapi: string;
  info: Schema;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation["op"]>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Schema> } & Schema;
};

export async function fetchDocument(t: TestGateway, origin = "http://localhost"): Promise<Doc> {
  const res = await t.app.request(`${origin}/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
  return (await res.json()) as Doc;
}

export function operations(doc: Doc): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op !== undefined) out.push({ method, path, op });
    }
  }
  return out;
}

export const find = (doc: Doc, method: Operation["method"], path: string): Operation => {
  const op = doc.paths[path]?.[method];
  if (op === undefined) throw new Error(`${method} ${path} is not documented`);
  return { method, path, op };
};

/** A response of an operation, with a $ref to components.responses followed. */
export function response(doc: Doc, op: Operation, status: string | number): Schema {
  const r = op.op.responses[String(status)];
  if (r === undefined) throw new Error(`${op.method} ${op.path} documents no ${status}`);
  return typeof r.$ref === "string" ? (resolvePointer(doc, r.$ref) as Schema) : r;
}

export function responseSchema(
  doc: Doc,
  op: Operation,
  status: string | number,
  type: string,
): Schema {
  const content = response(doc, op, status).content as
    | Record<string, { schema: Schema }>
    | undefined;
  const media = content?.[type];
  if (media === undefined) throw new Error(`${op.method} ${op.path} ${status} has no ${type}`);
  return media.schema;
}

export const SAMPLE_ID = "sample-id";

/** The path with every template parameter filled in. */
export const samplePath = (path: string, values: Record<string, string> = {}): string =>
  path.replace(
    /\{([^}]+)\}/g,
    (_, name: string) => values[name] ?? (name === "subpath" ? "a/b" : SAMPLE_ID),
  );

/** The partner that partners' tokens name: partners' own calls check it exists and is active. */
export const PARTNER_ID = "openapi-partner";

export async function ensurePartner(t: TestGateway): Promise<void> {
  const res = await t.admin("POST", "/admin/partners", {
    id: PARTNER_ID,
    name: "OpenAPI test partner",
    jurisdiction: "SE",
    baseUrl: "http://127.0.0.1:9",
  });
  if (res.status !== 201)
    throw new Error(`create ${PARTNER_ID}: ${res.status} ${await res.text()}`);
}

/** A token that satisfies the operation's documented security (undefined: none needed). */
export async function tokenFor(t: TestGateway, op: Operation): Promise<string | undefined> {
  const oauth = (op.op.security ?? []).find((r) => r.oauth2 !== undefined)?.oauth2;
  if (oauth === undefined) return undefined;
  const scopes = oauth.map((s) => s.replace("{id}", SAMPLE_ID));
  const sub = scopes.includes("admin")
    ? "operator"
    : scopes.includes("metrics:read")
      ? "finance"
      : PARTNER_ID;
  return t.token(sub, scopes);
}

export async function callOperation(
  t: TestGateway,
  op: Operation,
  options: {
    path?: string;
    query?: string;
    body?: unknown;
    headers?: Record<string, string>;
    token?: string | null;
  } = {},
): Promise<Response> {
  const token = options.token === null ? undefined : (options.token ?? (await tokenFor(t, op)));
  const path = `${options.path ?? samplePath(op.path)}${options.query === undefined ? "" : `?${options.query}`}`;
  return t.call(op.method.toUpperCase(), path, {
    ...(token === undefined ? {} : { token }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  });
}

export const validatorOf = (doc: Doc) => new Validator(doc);

/** Runs `fn` over `items`, at most `limit` at a time; results in input order. */
export async function concurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A schema with a top-level $ref followed. */
export function resolvePointerOf(doc: Doc, schema: Schema): Schema {
  if (typeof schema.$ref !== "string") return schema;
  const target = resolvePointer(doc, schema.$ref);
  if (target === undefined) throw new Error(`unresolved ${schema.$ref}`);
  return target as Schema;
}

/** Walks every value of a JSON tree with its pointer. */
export function walk(
  node: unknown,
  visit: (value: unknown, pointer: string) => void,
  pointer = "#",
): void {
  visit(node, pointer);
  if (Array.isArray(node)) {
    node.forEach((v, i) => {
      walk(v, visit, `${pointer}/${i}`);
    });
  } else if (typeof node === "object" && node !== null) {
    for (const [k, v] of Object.entries(node))
      walk(v, visit, `${pointer}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`);
  }
}
