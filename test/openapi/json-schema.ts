/**
 * A small JSON Schema (2020-12) validator for the keywords the gateway's
 * OpenAPI document uses, so the tests can ask "does the document say this
 * request is valid?" independently of zod. It refuses any keyword it does
 * not know instead of ignoring it, so it can never pass something silently.
 */

export type Schema = { readonly [key: string]: unknown };

const ANNOTATIONS = new Set([
  "description",
  "default",
  "examples",
  "title",
  "format",
  "deprecated",
]);
const ASSERTIONS = new Set([
  "$ref",
  "type",
  "enum",
  "const",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
  "anyOf",
  "allOf",
  "oneOf",
]);

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

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const matchesType = (value: unknown, type: string) => {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
};

export class Validator {
  constructor(private readonly root: unknown) {}

  /** Every problem of `value` against `schema`; empty when valid. */
  errors(schema: unknown, value: unknown, at = "$"): string[] {
    if (schema === true || (isObj(schema) && Object.keys(schema).length === 0)) return [];
    if (schema === false) return [`${at}: nothing is allowed`];
    if (!isObj(schema)) throw new Error(`${at}: not a schema: ${JSON.stringify(schema)}`);
    for (const key of Object.keys(schema)) {
      if (!ASSERTIONS.has(key) && !ANNOTATIONS.has(key))
        throw new Error(`${at}: the test validator does not know keyword ${key}`);
    }
    const out: string[] = [];
    if (typeof schema.$ref === "string") {
      const target = resolvePointer(this.root, schema.$ref);
      if (target === undefined) throw new Error(`${at}: unresolved $ref ${schema.$ref}`);
      out.push(...this.errors(target, value, at));
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((t) => matchesType(value, String(t))))
        return [...out, `${at}: ${typeOf(value)} is not ${types.join("|")}`];
    }
    if (
      Array.isArray(schema.enum) &&
      !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))
    )
      out.push(`${at}: not one of the enum`);
    if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
      out.push(`${at}: not ${JSON.stringify(schema.const)}`);
    if (typeof value === "string") {
      const length = [...value].length;
      if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
        out.push(`${at}: does not match ${schema.pattern}`);
      if (typeof schema.minLength === "number" && length < schema.minLength)
        out.push(`${at}: too short`);
      if (typeof schema.maxLength === "number" && length > schema.maxLength)
        out.push(`${at}: too long`);
    }
    if (typeof value === "number") {
      if (typeof schema.minimum === "number" && value < schema.minimum)
        out.push(`${at}: below minimum`);
      if (typeof schema.maximum === "number" && value > schema.maximum)
        out.push(`${at}: above maximum`);
    }
    if (Array.isArray(value)) {
      if (typeof schema.minItems === "number" && value.length < schema.minItems)
        out.push(`${at}: too few items`);
      if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
        out.push(`${at}: too many items`);
      if (
        schema.uniqueItems === true &&
        new Set(value.map((v) => JSON.stringify(v))).size !== value.length
      )
        out.push(`${at}: items repeat`);
      if (schema.items !== undefined)
        value.forEach((v, i) => {
          out.push(...this.errors(schema.items, v, `${at}[${i}]`));
        });
    }
    if (isObj(value)) {
      const props = isObj(schema.properties) ? schema.properties : {};
      for (const name of Array.isArray(schema.required) ? schema.required : []) {
        if (!(String(name) in value)) out.push(`${at}: ${String(name)} is required`);
      }
      for (const [name, v] of Object.entries(value)) {
        if (name in props) out.push(...this.errors(props[name], v, `${at}.${name}`));
        else if (schema.additionalProperties !== undefined)
          out.push(...this.errors(schema.additionalProperties, v, `${at}.${name}`));
        if (schema.propertyNames !== undefined)
          out.push(...this.errors(schema.propertyNames, name, `${at} name ${name}`));
      }
    }
    if (Array.isArray(schema.allOf))
      for (const s of schema.allOf) out.push(...this.errors(s, value, at));
    if (
      Array.isArray(schema.anyOf) &&
      !schema.anyOf.some((s) => this.errors(s, value, at).length === 0)
    )
      out.push(`${at}: matches none of anyOf`);
    if (
      Array.isArray(schema.oneOf) &&
      schema.oneOf.filter((s) => this.errors(s, value, at).length === 0).length !== 1
    )
      out.push(`${at}: does not match exactly one of oneOf`);
    return out;
  }

  valid(schema: unknown, value: unknown): boolean {
    return this.errors(schema, value).length === 0;
  }
}
