/**
 * Keyed pseudonyms: "ps_" + the first 22 base64url characters of
 * HMAC-SHA256(key, canonical JSON text of the value). Stable per key, not
 * reversible without the key, which never leaves the gateway.
 */
import { createHmac } from "node:crypto";
import { LRUCache } from "lru-cache";

/**
 * Telemetry repeats the same few personal values (one driver, many records):
 * remember some. Bounded small, as one cache lives in every cached plan, and
 * made on first use, so a plan that pseudonymizes nothing holds none.
 */
const CACHE_LIMIT = 512;

export class Pseudonymizer {
  readonly #key: Uint8Array;
  #cache: LRUCache<string, string> | undefined;

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("the pseudonym key must hold at least 32 bytes");
    this.#key = Uint8Array.from(key);
  }

  /** The pseudonym of a value given as canonical JSON text, itself as JSON string text. */
  jsonFor(canonicalJson: string): string {
    this.#cache ??= new LRUCache({ max: CACHE_LIMIT });
    const hit = this.#cache.get(canonicalJson);
    if (hit !== undefined) return hit;
    const mac = createHmac("sha256", this.#key).update(canonicalJson, "utf8").digest("base64url");
    const json = `"ps_${mac.slice(0, 22)}"`;
    this.#cache.set(canonicalJson, json);
    return json;
  }

  /** The bare pseudonym (no quotes), for CSV cells. */
  of(canonicalJson: string): string {
    return this.jsonFor(canonicalJson).slice(1, -1);
  }
}
