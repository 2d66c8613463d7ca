/**
 * The JSON-LD context of an imported document, processed without any I/O.
 * `@context` may name the ODRL 2.2 context by its URL (built in, never fetched)
 * and hold inline objects of prefixes and term definitions; any other URL is
 * refused. Keys and vocabulary values then expand to IRIs the way a JSON-LD
 * processor expands them, so a document that binds our namespace to another
 * prefix, or spells ODRL terms as full IRIs, reads the same.
 */
import { invalid, isPlainObject, join, unsupported } from "./issues.ts";
import { KNOWN_CONTEXTS } from "./odrl-context.ts";
import { ODRL_CONTEXT } from "./vocabulary.ts";

const KEYWORDS = new Set(
  "@context @id @type @value @language @direction @list @set @graph @reverse @index @base @vocab @container @nest @none @prefix @propagate @protected @version @import @included @json".split(
    " ",
  ),
);

/** Bounds on an inline context, so a hostile one cannot exhaust the stack. */
const MAX_TERMS = 1000;
const MAX_TERM_DEPTH = 16;

export class ActiveContext {
  constructor(private readonly terms: ReadonlyMap<string, string>) {}

  /**
   * A key, or a value the context types `@vocab` (an action, operator, left
   * operand, `@type`): a keyword, a term, a compact IRI or an absolute IRI.
   * Undefined for a word no context defines.
   */
  vocab(value: string): string | undefined {
    if (value.startsWith("@")) return KEYWORDS.has(value) ? value : undefined;
    return this.terms.get(value) ?? this.compactIri(value);
  }

  /** A value the context types `@id` (uid, assigner, source...): terms do not apply. */
  iri(value: string): string {
    return this.compactIri(value) ?? value;
  }

  private compactIri(value: string): string | undefined {
    const colon = value.indexOf(":");
    if (colon <= 0) return undefined;
    const suffix = value.slice(colon + 1);
    if (suffix.startsWith("//")) return value;
    const prefix = this.terms.get(value.slice(0, colon));
    return prefix === undefined || prefix.startsWith("@") ? value : prefix + suffix;
  }
}

/** Reads `@context`: a URL, an object, or an array of them, applied in order. */
export function readContext(value: unknown, field: string): ActiveContext {
  const terms = new Map<string, string>();
  const entries: [unknown, string][] = Array.isArray(value)
    ? value.map((v, i) => [v, join(field, i)])
    : [[value, field]];
  for (const [entry, at] of entries) {
    if (typeof entry === "string") {
      const known = KNOWN_CONTEXTS.get(entry);
      if (known === undefined) {
        unsupported(
          at,
          `context "${entry}" is not known: contexts are never fetched, the known one is ${ODRL_CONTEXT}`,
        );
      }
      for (const [term, iri] of known) terms.set(term, iri);
    } else if (isPlainObject(entry)) {
      for (const [term, iri] of defineTerms(entry, at, terms)) terms.set(term, iri);
    } else if (entry === null) {
      unsupported(at, "a null context (resetting the active context) is outside the subset");
    } else {
      invalid(at, "must be a context URL or an object of term definitions");
    }
  }
  return new ActiveContext(terms);
}

/** The terms an inline context object defines, each resolved to an IRI or keyword. */
function defineTerms(
  object: Record<string, unknown>,
  field: string,
  previous: ReadonlyMap<string, string>,
): Map<string, string> {
  const raw = new Map<string, string>();
  if (Object.keys(object).length > MAX_TERMS) {
    invalid(field, `defines more than ${MAX_TERMS} terms`);
  }
  for (const [term, definition] of Object.entries(object)) {
    const at = join(field, term);
    if (term === "@version") {
      if (definition !== 1.1) invalid(at, "must be 1.1");
      continue;
    }
    if (term.startsWith("@")) unsupported(at, `context keyword "${term}" is outside the subset`);
    raw.set(term, rawIri(term, definition, at));
  }
  const resolved = new Map<string, string>();
  const resolve = (term: string, seen: ReadonlySet<string>): string => {
    const done = resolved.get(term);
    if (done !== undefined) return done;
    const at = join(field, term);
    if (seen.has(term)) invalid(at, "the term definitions refer to each other in a cycle");
    if (seen.size >= MAX_TERM_DEPTH) invalid(at, "the term definitions nest too deep");
    const value = raw.get(term) ?? "";
    const next = new Set([...seen, term]);
    const lookup = (name: string): string | undefined =>
      raw.has(name) && name !== term ? resolve(name, next) : previous.get(name);
    let iri: string | undefined;
    if (value === "@id" || value === "@type") iri = value;
    else if (value.startsWith("@")) unsupported(at, `an alias of "${value}" is outside the subset`);
    else if (value.includes(":")) {
      const colon = value.indexOf(":");
      const suffix = value.slice(colon + 1);
      const prefix = suffix.startsWith("//") ? undefined : lookup(value.slice(0, colon));
      iri = prefix === undefined || prefix.startsWith("@") ? value : prefix + suffix;
    } else iri = lookup(value);
    if (iri === undefined) invalid(at, `"${value}" does not expand to an IRI`);
    resolved.set(term, iri);
    return iri;
  };
  for (const term of raw.keys()) resolve(term, new Set());
  return resolved;
}

/** The IRI a term definition names, as written (resolved later). */
function rawIri(term: string, definition: unknown, field: string): string {
  if (typeof definition === "string") return definition;
  if (definition === null) unsupported(field, `removing the term "${term}" is outside the subset`);
  if (!isPlainObject(definition)) invalid(field, "must be an IRI or a term definition object");
  for (const [key, value] of Object.entries(definition)) {
    const at = join(field, key);
    if (key === "@id" || key === "@type") {
      if (typeof value !== "string") invalid(at, "must be a string");
    } else if (key === "@container") {
      if (value !== "@list" && value !== "@set") {
        unsupported(at, `container ${JSON.stringify(value)} is outside the subset`);
      }
    } else unsupported(at, `term definition key "${key}" is outside the subset`);
  }
  const id = definition["@id"];
  if (typeof id === "string") return id;
  if (term.includes(":")) return term;
  return invalid(field, `the term "${term}" needs an "@id"`);
}
