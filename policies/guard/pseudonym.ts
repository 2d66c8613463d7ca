/**
 * Keyed pseudonyms: "ps_" + the first 22 base64url characters of
 * HMAC-SHA256(key, canonical JSON text of the value). Stable per key, not
 * reversible without the key, which never leaves the gateway.
 */
import { createHmac } from "node:crypto";

/**
 * Telemetry repeats the same few personal values (one driver, many records):
 * remember some. Bounded small, as one cache lives in every cached plan, and
 * made on first use, so a plan that pseudonymizes nothing holds none. Two
 * generations of plain Maps of at most GENERATION values each, rather than an
 * LRU: a hit (the common case, once per pseudonymized value) allocates
 * nothing, and a value used in either generation stays.
 */
const GENERATION = 256;

/** Longer values are not remembered: their hashing dominates anyway, and the cache stays small. */
const LONGEST_KEPT = 256;

/** Slots of the in-place cache (a power of two): recent values found by their text in the body. */
const SLOTS = 256;

/** A remembered value (a copy: a slice would keep the whole body it came from alive) and its pseudonym. */
interface Entry {
  readonly value: string;
  readonly json: string;
}

export class Pseudonymizer {
  readonly #key: Uint8Array;
  #young: Map<string, Entry> | undefined;
  #old: Map<string, Entry> | undefined;
  /** Entries by a cheap sample of the value's text, checked in full against the body on use. */
  #slots: (Entry | undefined)[] | undefined;

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("the pseudonym key must hold at least 32 bytes");
    this.#key = Uint8Array.from(key);
  }

  /** The pseudonym of a value given as canonical JSON text, itself as JSON string text. */
  jsonFor(canonicalJson: string): string {
    return this.#entry(canonicalJson).json;
  }

  /**
   * jsonFor(text.slice(from, to)), the range being canonical JSON text (a
   * string token without escapes, a number): a value met recently is found
   * by comparing it in place, without slicing it out of the body.
   */
  jsonForRange(text: string, from: number, to: number): string {
    const length = to - from;
    if (length > LONGEST_KEPT) return this.#mac(text.slice(from, to));
    // Length, and units at both ends and in the middle: values that differ differ there, mostly.
    const h =
      length * 7 +
      text.charCodeAt(to - 2) * 31 +
      text.charCodeAt(to - 3) * 5 +
      text.charCodeAt(from + 1) +
      text.charCodeAt(from + (length >> 1)) * 3;
    const slot = (h ^ (h >>> 8)) & (SLOTS - 1);
    this.#slots ??= new Array<Entry | undefined>(SLOTS).fill(undefined);
    const slots = this.#slots;
    const hit = slots[slot];
    if (hit !== undefined && hit.value.length === length && text.startsWith(hit.value, from)) {
      return hit.json;
    }
    const entry = this.#entry(text.slice(from, to));
    slots[slot] = entry;
    return entry.json;
  }

  #entry(canonicalJson: string): Entry {
    const hit = this.#young?.get(canonicalJson);
    if (hit !== undefined) return hit;
    if (canonicalJson.length > LONGEST_KEPT) return { value: "", json: this.#mac(canonicalJson) };
    const entry = this.#old?.get(canonicalJson) ?? {
      // A copy of the value: the argument is often a slice of a whole body.
      value: JSON.parse(JSON.stringify(canonicalJson)) as string,
      json: this.#mac(canonicalJson),
    };
    if (this.#young === undefined || this.#young.size >= GENERATION) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(entry.value, entry);
    return entry;
  }

  #mac(canonicalJson: string): string {
    const mac = createHmac("sha256", this.#key).update(canonicalJson, "utf8").digest("base64url");
    return `"ps_${mac.slice(0, 22)}"`;
  }

  /** The bare pseudonym (no quotes), for CSV cells. */
  of(canonicalJson: string): string {
    return this.jsonFor(canonicalJson).slice(1, -1);
  }
}
