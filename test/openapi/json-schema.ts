/**
 * JSON Schema (2020-12) validation of values against the gateway's OpenAPI
 * document, by Ajv, so the tests can ask "does the document say this request
 * is valid?" independently of zod. Strict mode: a keyword or format Ajv does
 * not know fails the compilation instead of being ignored, so nothing passes
 * silently. Formats (`date-time`, `uri`) are asserted (ajv-formats).
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export type Schema = { readonly [key: string]: unknown };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Resolves a local JSON pointer (`#/components/...`) inside `root`. */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`not a local reference: ${ref}`);
  let node: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObj(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

/** The document's base URI inside Ajv. */
const ROOT = "urn:gateway-test:openapi";

/** Every object inside `node`, with its JSON pointer as a URI fragment. */
function pointersOf(node: unknown, pointer = "", out = new WeakMap<object, string>()) {
  if (typeof node !== "object" || node === null) return out;
  out.set(node, pointer);
  for (const [key, value] of Object.entries(node)) {
    const segment = encodeURIComponent(key.replace(/~/g, "~0").replace(/\//g, "~1"));
    pointersOf(value, `${pointer}/${segment}`, out);
  }
  return out;
}

export class Validator {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  /** Schemas that are not part of the document, compiled on their own. */
  private readonly detached = new WeakMap<object, ValidateFunction>();
  private readonly pointers: WeakMap<object, string>;
  private readonly components: unknown;
  private next = 0;

  /** `root`: the OpenAPI document; its schemas refer to each other by `#/components/...`. */
  constructor(root: unknown) {
    addFormats.default(this.ajv);
    // The document is added once as a schema resource, so each of its schemas
    // (and what they refer to) compiles once. Ajv must know its two members
    // that hold schemas; it validates no value against them.
    this.ajv.addKeyword({ keyword: "components" });
    this.ajv.addKeyword({ keyword: "paths" });
    const doc = isObj(root) ? root : {};
    this.components = doc.components;
    this.ajv.addSchema({ $id: ROOT, components: doc.components, paths: doc.paths });
    this.pointers = pointersOf({ components: doc.components, paths: doc.paths });
  }

  private validatorOf(schema: unknown): ValidateFunction {
    if (schema !== true && schema !== false && !isObj(schema))
      throw new Error(`not a schema: ${JSON.stringify(schema)}`);
    if (typeof schema === "boolean") return this.ajv.compile(schema);
    const pointer = this.pointers.get(schema);
    if (pointer !== undefined) {
      const validate = this.ajv.getSchema(`${ROOT}#${pointer}`);
      if (validate === undefined) throw new Error(`no schema at ${pointer}`);
      return validate;
    }
    let validate = this.detached.get(schema);
    if (validate === undefined) {
      // Its `#/components/...` references resolve inside a copy of the components.
      validate = this.ajv.compile({
        $id: `urn:gateway-test:schema:${++this.next}`,
        allOf: [schema],
        components: this.components,
      });
      this.detached.set(schema, validate);
    }
    return validate;
  }

  /** Every problem of `value` against `schema`; empty when valid. */
  errors(schema: unknown, value: unknown): string[] {
    const validate = this.validatorOf(schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) => `$${e.instancePath}: ${e.message ?? e.keyword} (${e.schemaPath})`,
    );
  }

  valid(schema: unknown, value: unknown): boolean {
    return this.errors(schema, value).length === 0;
  }
}
