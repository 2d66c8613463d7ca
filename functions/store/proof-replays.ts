/**
 * DPoP proofs already used: a proof's `jti` is claimed once, with a
 * conditional put under a key made from the proof's key thumbprint and the
 * jti, in the `meter` table (partition `DP#…`, expiring by TTL once the proof
 * could no longer be accepted anyway). The exchange puts the claim into the
 * metering transaction (`claimPut`, one builder item) or runs it beside its
 * state read; every other route claims with its own write (`claim`).
 *
 * In front of the store, each process keeps the proofs it saw recently
 * (`RecentProofs`): a replay to the same instance is refused with no store
 * call at all. The store claim is what makes it exact across instances.
 */
import { createHash } from "node:crypto";
import type { Put } from "@aws-sdk/client-dynamodb";
import { LRUCache } from "lru-cache";
import type { VerifiedProof } from "../auth/dpop.ts";
import { epochSeconds, key, N } from "./codec.ts";
import type { Db } from "./db.ts";

/** The partition prefix of proof claims in the `meter` table (IAM: `DP#*`). */
export const PROOF_PK_PREFIX = "DP#";

export const proofKey = (jkt: string, jti: string) =>
  key(
    `${PROOF_PK_PREFIX}${createHash("sha256").update(`${jkt}\u0000${jti}`).digest("base64url")}`,
    "DP",
  );

export class ProofReplays {
  constructor(private readonly db: Db) {}

  /**
   * The conditional put that claims a proof's jti: it fails when a claim
   * still in force exists (TTL deletes lazily, so an expired one is free).
   */
  claimPut(proof: VerifiedProof, now: Date): Omit<Put, "TableName"> {
    return {
      Item: { ...proofKey(proof.jkt, proof.jti), expiresAt: N(proof.acceptableUntil) },
      ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
      ExpressionAttributeValues: { ":now": N(epochSeconds(now)) },
    };
  }

  /**
   * Claims the proof on its own, with one conditional UpdateItem (it creates
   * the item: 1 WCU, where a one-item transaction would cost 2); false when
   * the proof was used before.
   */
  async claim(proof: VerifiedProof, now: Date): Promise<boolean> {
    return this.db.update(
      "meter",
      {
        Key: proofKey(proof.jkt, proof.jti),
        UpdateExpression: "SET expiresAt = :until",
        ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
        ExpressionAttributeValues: {
          ":until": N(proof.acceptableUntil),
          ":now": N(epochSeconds(now)),
        },
      },
      "claim the DPoP proof",
    );
  }
}

/**
 * Proofs this process saw, until they could no longer be accepted: a replay
 * to the same instance is caught before any store call. A bounded LRU whose
 * entries also expire of themselves once their proof could not be accepted
 * anyway (the store claim still catches what falls out when it is full).
 */
export class RecentProofs {
  private readonly seen: LRUCache<string, number>;

  constructor(max = 100_000) {
    this.seen = new LRUCache({ max });
  }

  /** True when the proof was seen before (a replay); otherwise remembers it. */
  replayed(proof: VerifiedProof, now: Date): boolean {
    const id = `${proof.jkt}.${proof.jti}`;
    const t = epochSeconds(now);
    const until = this.seen.get(id);
    // Decided on the gateway's clock; the TTL only frees memory.
    if (until !== undefined && until >= t) return true;
    this.seen.set(id, proof.acceptableUntil, {
      ttl: Math.max(1, proof.acceptableUntil - t + 1) * 1000,
    });
    return false;
  }
}
