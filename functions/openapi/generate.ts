/**
 * Zod → JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) with zod 4's
 * own `z.toJSONSchema`. Requests are converted on their input side (what a
 * client sends, before transforms and defaults), responses on their output
 * side. Refinements have no JSON Schema form: their messages are kept as the
 * schema's description, so people still read every rule.
 */
import * as z from "zod";
import { COUNTRY_CODES, CURRENCY_CODES } from "../../policies/iso.ts";
import { Currency, Jurisdiction, Timestamp } from "../../policies/model.ts";

export type JsonSchema = { [key: string]: unknown };

export const SCHEMA_REF_PREFIX = "#/components/schemas/";
export const ref = (name: string): JsonSchema => ({ $ref: `${SCHEMA_REF_PREFIX}${name}` });

type Io = "input" | "output";
type OverrideContext = { zodSchema: unknown; jsonSchema: JsonSchema };

/** The messages of a schema's refinements (zod keeps them as custom checks). */
export function refinementMessages(schema: unknown): string[] {
  const def = (schema as { _zod?: { def?: { checks?: unknown[] } } })._zod?.def;
  const out: string[] = [];
  for (const check of def?.checks ?? []) {
    const cdef = (check as { _zod?: { def?: { check?: string; error?: unknown } } })._zod?.def;
    if (cdef?.check !== "custom" || typeof cdef.error !== "function") continue;
    try {
      const message: unknown = (cdef.error as (issue: unknown) => unknown)({});
      if (typeof message === "string" && message !== "") out.push(message);
      else if (
        typeof message === "object" &&
        message !== null &&
        typeof (message as { message?: unknown }).message === "string"
      ) {
        out.push((message as { message: string }).message);
      }
    } catch {
      // a message computed from the failing value: nothing to show without one
    }
  }
  return out;
}

const sorted = (codes: ReadonlySet<string>) => [...codes].sort();

function override(io: Io): (ctx: OverrideContext) => void {
  return ({ zodSchema, jsonSchema }) => {
    // The refinements of these two check membership of the ISO lists: say which values pass.
    if (zodSchema === Jurisdiction) jsonSchema.enum = sorted(COUNTRY_CODES);
    if (zodSchema === Currency) jsonSchema.enum = sorted(CURRENCY_CODES);
    if (io === "output") {
      // A Timestamp parses to a normalised ISO string; the transform hides that from zod.
      if (zodSchema === Timestamp)
        Object.assign(jsonSchema, { type: "string", format: "date-time" });
      // Answers may grow new members; clients ignore what they do not know.
      if (jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
    }
    const rules = refinementMessages(zodSchema);
    if (rules.length > 0) {
      const note = `Also checked: ${rules.join("; ")}.`;
      jsonSchema.description =
        typeof jsonSchema.description === "string" ? `${jsonSchema.description}. ${note}` : note;
    }
  };
}

const strip = (schema: JsonSchema): JsonSchema => {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
};

/**
 * Every schema of `named` as a component, converted on side `io`; a schema
 * that appears inside another becomes a `$ref` to its component.
 */
export function componentSchemas(
  named: Readonly<Record<string, z.ZodType>>,
  io: Io,
): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: "any",
    uri: (id) => `${SCHEMA_REF_PREFIX}${id}`,
    override: override(io),
  }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, strip(s)]));
}

/** One schema, inline, on side `io`. */
export function inlineSchema(schema: z.ZodType, io: Io): JsonSchema {
  return strip(
    z.toJSONSchema(schema, { io, unrepresentable: "any", override: override(io) }) as JsonSchema,
  );
}

export interface Parameter {
  readonly name: string;
  readonly in: "query" | "path" | "header";
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonSchema;
  readonly style?: string;
  readonly explode?: boolean;
}

/** Query parameters from the input side of a zod object schema (or several, in order). */
export function queryParameters(
  schemas: readonly z.ZodType[],
  notes: Readonly<Record<string, string>> = {},
  patch: Readonly<Record<string, JsonSchema>> = {},
): Parameter[] {
  const out: Parameter[] = [];
  for (const schema of schemas) {
    const json = inlineSchema(schema, "input");
    if (json.type !== "object" || typeof json.properties !== "object" || json.properties === null) {
      throw new TypeError("a query schema must be an object schema");
    }
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries(json.properties as Record<string, JsonSchema>)) {
      const schemaOut = { ...prop, ...patch[name] };
      const description = notes[name] ?? (prop.description as string | undefined);
      out.push({
        name,
        in: "query",
        required: required.has(name),
        ...(description === undefined ? {} : { description }),
        schema: schemaOut,
      });
    }
  }
  return out;
}
