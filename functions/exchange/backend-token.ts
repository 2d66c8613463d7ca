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

export class BackendTokens {
  private readonly cache = new LRUCache<string, { token: string; exp: number }>({ max: 5000 });

  constructor(
    private readonly signer: Signer,
    private readonly issuer: string,
  ) {}

  async tokenFor(
    claims: {
      aud: string;
      agreement: string;
      party: string;
      purpose: string | null;
      action: string;
    },
    now: Date,
  ): Promise<string> {
    const id = `${claims.agreement}|${claims.aud}|${claims.purpose ?? ""}|${claims.action}`;
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.exp - now.getTime() / 1000 > RENEW_BEFORE_SECONDS)
      return cached.token;
    const fresh = await issueGatewayToken(this.signer, this.issuer, claims, LIFETIME_SECONDS, now);
    // Reused by the gateway's clock (above); dropped of itself once it is due for renewal.
    const ttlMs = (fresh.exp - RENEW_BEFORE_SECONDS) * 1000 - now.getTime();
    this.cache.set(id, fresh, { ttl: Math.max(1, ttlMs) });
    return fresh.token;
  }
}
