/**
 * Attribute value helpers. Entities are stored as a JSON `doc` attribute plus
 * the few top-level attributes that keys, indexes and conditions need, so the
 * store never needs a general-purpose marshaller.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number | bigint | string): AttributeValue => ({ N: String(value) });
export const B = (value: Uint8Array): AttributeValue => ({ B: value });
export const SS = (values: readonly string[]): AttributeValue => ({ SS: [...values] });

export const key = (pk: string, sk: string): Item => ({ pk: S(pk), sk: S(sk) });

export function str(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v !== undefined && "S" in v ? v.S : undefined;
}

export function num(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v !== undefined && "N" in v && v.N !== undefined ? Number(v.N) : undefined;
}

export function strSet(item: Item | undefined, name: string): string[] {
  const v = item?.[name];
  return v !== undefined && "SS" in v && v.SS !== undefined ? v.SS : [];
}

// Parsed documents by their exact text: the exchange reads the same few
// entities over and over, and the text is the whole identity of the value,
// so a hit can never be stale. Values are shared: callers never mutate them.
// A Map, oldest out first when full: a hit allocates nothing (LRUCache.get
// made an options object per call, five per exchange).
const parsed = new Map<string, NonNullable<unknown>>();
const MAX_PARSED = 4096;

/** The entity held in an item's `doc` attribute. */
export function docOf<T>(item: Item | undefined): T | undefined {
  const raw = str(item, "doc");
  if (raw === undefined) return undefined;
  const hit = parsed.get(raw);
  if (hit !== undefined) return hit as T;
  const value: unknown = Object.freeze(JSON.parse(raw));
  // Entities are objects; a bare `null` (never written) is answered, not cached.
  if (value !== null && value !== undefined) {
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
    parsed.set(raw, value);
  }
  return value as T;
}

export const epochSeconds = (t: Date): number => Math.floor(t.getTime() / 1000);
