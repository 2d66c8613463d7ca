/**
 * Reading compact JSON-LD: the members of a node, each key expanded and checked
 * against the terms the subset has at that place, and their values read the way
 * the ODRL context types them (IRIs, vocabulary terms, typed literals).
 */
import type { ActiveContext } from "./context.ts";
import { invalid, isPlainObject, join, unsupported } from "./issues.ts";
import { XSD_NS } from "./vocabulary.ts";

/** One member of a node: its key as written, its value, its path. */
export interface Member {
  readonly key: string;
  readonly value: unknown;
  readonly field: string;
}

/** The terms a node may hold: expanded IRI (or keyword) → the name used when it is missing. */
export type Allowed = Readonly<Record<string, string>>;

export class Node {
  private constructor(
    readonly field: string,
    private readonly members: ReadonlyMap<string, Member>,
    private readonly allowed: Allowed,
  ) {}

  static read(value: unknown, field: string, context: ActiveContext, allowed: Allowed): Node {
    if (!isPlainObject(value)) return invalid(field, "must be an object");
    const members = new Map<string, Member>();
    for (const [key, member] of Object.entries(value)) {
      const at = join(field, key);
      const iri = context.vocab(key);
      if (iri === undefined || !Object.hasOwn(allowed, iri)) {
        unsupported(at, `${describe(key, iri)} is outside the supported ODRL subset here`);
      }
      const seen = members.get(iri);
      if (seen !== undefined) invalid(at, `says again what "${seen.key}" says`);
      members.set(iri, { key, value: member, field: at });
    }
    return new Node(field, members, allowed);
  }

  get(iri: string): Member | undefined {
    return this.members.get(iri);
  }

  required(iri: string): Member {
    return (
      this.members.get(iri) ?? invalid(join(this.field, this.allowed[iri] ?? iri), "is required")
    );
  }
}

/** How a term is named in a message: as written, with its IRI when that says more. */
export const describe = (written: string, iri: string | undefined): string =>
  iri === undefined
    ? `"${written}" (no term of the document's contexts)`
    : iri === written
      ? `"${written}"`
      : `"${written}" (${iri})`;

/** The items of a value that may be one item or an array (or `@list`/`@set`) of them. */
export function items(member: Member): Member[] {
  const { value, field } = member;
  if (isPlainObject(value)) {
    const [only, ...rest] = Object.keys(value);
    const inner = only === undefined ? undefined : value[only];
    if ((only === "@list" || only === "@set") && rest.length === 0 && Array.isArray(inner)) {
      return items({ key: member.key, value: inner, field: join(field, only) });
    }
  }
  if (!Array.isArray(value)) return [member];
  return value.map((v, i) => ({ key: member.key, value: v, field: join(field, i) }));
}

/** A value that must be exactly one item (a one-item array counts). */
export function single(member: Member): Member {
  const [first, ...rest] = items(member);
  if (first === undefined || rest.length > 0) return invalid(member.field, "must hold one value");
  return first;
}

/** An IRI: a string or `{"@id"}`, compact IRIs expanded. */
export function readIri(member: Member, context: ActiveContext): string {
  const { value, field } = single(member);
  if (typeof value === "string") return context.iri(value);
  if (isPlainObject(value))
    return context.iri(readString(Node.read(value, field, context, ID).required("@id"), context));
  return invalid(field, "must be an IRI");
}

/**
 * A vocabulary term (an action, operator, left operand, class, datatype): how
 * it is written and its IRI, undefined when no context defines the word.
 */
function readVocab(
  member: Member,
  context: ActiveContext,
): { iri: string | undefined; written: string; field: string } {
  const { value, field } = single(member);
  if (typeof value === "string") return { iri: context.vocab(value), written: value, field };
  if (isPlainObject(value)) {
    const written = readString(Node.read(value, field, context, ID).required("@id"), context);
    return { iri: context.iri(written), written, field };
  }
  return invalid(field, "must be a term or an IRI");
}

const ID: Allowed = { "@id": "@id" };
const VALUE: Allowed = { "@value": "@value", "@type": "@type" };

/** A literal's lexical form and the path where it is written. */
export interface Literal {
  readonly text: string;
  readonly field: string;
}

/**
 * A literal of the given XML Schema datatype: a JSON string (a JSON integer
 * for `integer`), or `{"@value", "@type"}` with that datatype.
 */
export function readTyped(member: Member, context: ActiveContext, datatype: string): Literal {
  const { value, field } = single(member);
  let inner = value;
  let at = field;
  if (isPlainObject(value)) {
    const node = Node.read(value, field, context, VALUE);
    const type = node.get("@type");
    if (type !== undefined) pick(type, context, { [XSD_NS + datatype]: true }, "datatype");
    ({ value: inner, field: at } = node.required("@value"));
  }
  if (typeof inner === "string") return { text: inner, field: at };
  // A JSON integer is an exact xsd:integer, so also an exact xsd:decimal (never a JSON float).
  if ((datatype === "integer" || datatype === "decimal") && Number.isSafeInteger(inner)) {
    return { text: String(inner), field: at };
  }
  return invalid(at, `must be an xsd:${datatype} literal`);
}

export const readString = (member: Member, context: ActiveContext): string =>
  readTyped(member, context, "string").text;

/** An integer: a JSON integer or an `xsd:integer` literal. */
export function readInteger(member: Member, context: ActiveContext): number {
  const { text, field } = readTyped(member, context, "integer");
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) invalid(field, "must be an integer");
  return n;
}

/** A vocabulary term that must be one of `options` (IRI → what it means to us). */
export function pick<T>(
  member: Member,
  context: ActiveContext,
  options: Readonly<Record<string, T>>,
  what: string,
): T {
  const { iri, written, field } = readVocab(member, context);
  const found = iri !== undefined && Object.hasOwn(options, iri) ? options[iri] : undefined;
  if (found === undefined) {
    unsupported(
      field,
      `${what} ${describe(written, iri)} is outside the supported ODRL subset here`,
    );
  }
  return found;
}

/** An optional `@type` that, when given, must be the class the subset has at that place. */
export function expectClass(node: Node, context: ActiveContext, iri: string, name: string): void {
  const type = node.get("@type");
  if (type !== undefined) pick(type, context, { [iri]: true }, `class (expected ${name})`);
}
