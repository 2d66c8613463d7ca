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

/** Slots of the in-place cache (a power of two): recent values found by their text in the body. */
const SLOTS = 256;

export class Pseudonymizer {
  readonly #key: Uint8Array;
  #young: Map<string, string> | undefined;
  #old: Map<string, string> | undefined;
  /** Direct-mapped by a hash of the value's text: its canonical JSON, and its pseudonym. */
  #slotKeys: string[] | undefined;
  #slotJson: string[] | undefined;

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("the pseudonym key must hold at least 32 bytes");
    this.#key = Uint8Array.from(key);
  }

  /** The pseudonym of a value given as canonical JSON text, itself as JSON string text. */
  jsonFor(canonicalJson: string): string {
    const young = this.#young;
    const hit = young?.get(canonicalJson);
    if (hit !== undefined) return hit;
    const json = this.#old?.get(canonicalJson) ?? this.#mac(canonicalJson);
    this.#remember(canonicalJson, json);
    return json;
  }

  /**
   * jsonFor(text.slice(from, to)), the range being canonical JSON text (a
   * string token without escapes, a number): a value met recently is found
   * by comparing it in place, without slicing it out of the body.
   */
  jsonForRange(text: string, from: number, to: number): string {
    let h = 0;
    for (let i = from; i < to; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
    const slot = (h ^ (h >>> 13)) & (SLOTS - 1);
    this.#slotKeys ??= new Array<string>(SLOTS).fill("");
    this.#slotJson ??= new Array<string>(SLOTS).fill("");
    const key = this.#slotKeys[slot] as string;
    if (key.length === to - from && key.length > 0 && text.startsWith(key, from)) {
      return this.#slotJson[slot] as string;
    }
    // A copy: a slice would keep the whole body alive in the cache.
    const value = JSON.parse(JSON.stringify(text.slice(from, to))) as string;
    const json = this.jsonFor(value);
    this.#slotKeys[slot] = value;
    this.#slotJson[slot] = json;
    return json;
  }

  #mac(canonicalJson: string): string {
    const mac = createHmac("sha256", this.#key).update(canonicalJson, "utf8").digest("base64url");
    return `"ps_${mac.slice(0, 22)}"`;
  }

  #remember(canonicalJson: string, json: string): void {
    if (this.#young === undefined || this.#young.size >= GENERATION) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    // The value is often a slice of a whole body, which it would keep alive: keep a copy.
    this.#young.set(JSON.parse(JSON.stringify(canonicalJson)) as string, json);
  }

  /** The bare pseudonym (no quotes), for CSV cells. */
  of(canonicalJson: string): string {
    return this.jsonFor(canonicalJson).slice(1, -1);
  }
}
