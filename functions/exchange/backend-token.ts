/**
 * The JWT the gateway presents to partner backends, reused per (agreement,
 * audience, purpose, action) while it has more than a minute to live, so the
 * signer (KMS in AWS) is not called on every exchange.
 */

import { LRUCache } from "lru-cache";
import type { Signer } from "../auth/jws.ts";
import { issueGatewayToken } from "../auth/tokens.ts";

const LIFETIME_SECONDS = 300;
const RENEW_BEFORE_SECONDS = 60;

interface BackendClaims {
  readonly aud: string;
  readonly agreement: string;
  readonly party: string;
  readonly purpose: string | null;
  readonly action: string;
}

const idOf = (claims: BackendClaims): string =>
  `${claims.agreement}|${claims.aud}|${claims.purpose ?? ""}|${claims.action}`;

export class BackendTokens {
  private readonly cache = new LRUCache<string, { token: string; exp: number }>({ max: 5000 });

  constructor(
    private readonly signer: Signer,
    private readonly issuer: string,
  ) {}

  /** A token cached for these claims with more than a minute to live, if any (no promise). */
  cached(claims: BackendClaims, now: Date): string | undefined {
    const cached = this.cache.get(idOf(claims));
    return cached !== undefined && cached.exp - now.getTime() / 1000 > RENEW_BEFORE_SECONDS
      ? cached.token
      : undefined;
  }

  async tokenFor(claims: BackendClaims, now: Date): Promise<string> {
    const known = this.cached(claims, now);
    if (known !== undefined) return known;
    const id = idOf(claims);
    const fresh = await issueGatewayToken(this.signer, this.issuer, claims, LIFETIME_SECONDS, now);
    // Reused by the gateway's clock (above); dropped of itself once it is due for renewal.
    const ttlMs = (fresh.exp - RENEW_BEFORE_SECONDS) * 1000 - now.getTime();
    this.cache.set(id, fresh, { ttl: Math.max(1, ttlMs) });
    return fresh.token;
  }
}
