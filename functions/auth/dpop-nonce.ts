/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), stateless: a nonce is the
 * number of a time window and an HMAC of it under a key every instance
 * derives from the gateway's master secret. Any instance checks any other's
 * nonce with no store round trip and nothing hot kept anywhere. A nonce is
 * good for the window it names and the next one, so a client that fetched
 * one just before a window ends is not refused.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { PseudonymKeys } from "./pseudonyms.ts";

/** Seconds per nonce window: a nonce lives between one and two windows. */
export const NONCE_WINDOW_SECONDS = 300;
/**
 * The derivation label of the nonce key, passed where agreement ids go: an
 * agreement id never holds a colon, so it can never name this key.
 */
export const NONCE_KEY_LABEL = "dpop-nonce:v1";
const MAC_BYTES = 16;
const NONCE = /^([0-9]{1,12})\.([A-Za-z0-9_-]{22})$/;

export class DpopNonces {
  private constructor(private readonly key: Uint8Array) {}

  /** Nonces keyed from the gateway's master secret (a local file, or KMS in AWS). */
  static async from(keys: Pick<PseudonymKeys, "forAgreement">): Promise<DpopNonces> {
    return new DpopNonces(await keys.forAgreement(NONCE_KEY_LABEL));
  }

  private mac(window: number): Buffer {
    return createHmac("sha256", this.key)
      .update(`dpop-nonce|${window}`)
      .digest()
      .subarray(0, MAC_BYTES);
  }

  private windowOf(now: Date): number {
    return Math.floor(now.getTime() / 1000 / NONCE_WINDOW_SECONDS);
  }

  /** The nonce to hand out now. */
  current(now: Date): string {
    const window = this.windowOf(now);
    return `${window}.${this.mac(window).toString("base64url")}`;
  }

  /** True for a nonce of this window or the previous one, made with this key. */
  valid(nonce: string, now: Date): boolean {
    const m = NONCE.exec(nonce);
    if (m === null) return false;
    const window = Number(m[1]);
    const current = this.windowOf(now);
    if (window !== current && window !== current - 1) return false;
    const given = Buffer.from(m[2] ?? "", "base64url");
    return given.length === MAC_BYTES && timingSafeEqual(given, this.mac(window));
  }
}
