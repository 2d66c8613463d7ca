/**
 * What a read released, kept with its Idempotency-Key claim so that a retry
 * answers the same bytes without calling the provider. The body is sealed
 * (AES-256-GCM, a key per agreement derived from the gateway's secret) and
 * bound to its claim and event. Small bodies ride in the claim itself, in the
 * metering transaction; larger ones are written to the object store first,
 * under a key named by the event, and the claim names the object. An object
 * whose metering did not commit is deleted at once; the rest expire with
 * their claims (a lifecycle rule in AWS, the local sweeper elsewhere).
 */
import type { PseudonymKeys } from "../auth/pseudonyms.ts";
import { open, SEAL_OVERHEAD, seal } from "../auth/sealed.ts";
import { B, type Item, N, num, S, str } from "../store/codec.ts";
import type { IdempotencyClaim } from "../store/meter.ts";
import type { ObjectStore } from "../store/objects.ts";

export interface Released {
  readonly body: string;
  readonly contentType: string;
  readonly records: number;
}

/** A sealed body made ready for a claim: its attributes, and the object written for it, if any. */
export interface Stash {
  readonly attributes: Item;
  readonly objectKey?: string | undefined;
}

/** Under this prefix the object store keeps replay bodies (the lifecycle rule names it too). */
export const REPLAY_PREFIX = "replays/";

export const replayObjectKey = (agreement: string, eventId: string): string =>
  `${REPLAY_PREFIX}${agreement}/${eventId}`;

const keyLabel = (agreement: string) => `replay-body:v1:${agreement}`;

/** Binds a sealed body to its claim, its event and what is answered with it. */
const aad = (claimPk: string, eventId: string, contentType: string, records: number) =>
  `${claimPk}\n${eventId}\n${contentType}\n${records}`;

export class ReplayBodies {
  constructor(
    private readonly deps: {
      readonly objects: ObjectStore;
      readonly pseudonyms: PseudonymKeys;
      readonly inlineMaxBytes: number;
    },
  ) {}

  /** Seals a released body for the claim `claimPk` of event `eventId`; writes large ones to the object store. */
  async stash(
    agreement: string,
    claimPk: string,
    eventId: string,
    released: Released,
  ): Promise<Stash> {
    const key = await this.deps.pseudonyms.derive(keyLabel(agreement));
    const plain = Buffer.from(released.body, "utf8");
    const sealed = seal(key, plain, aad(claimPk, eventId, released.contentType, released.records));
    const meta: Item = {
      contentType: S(released.contentType),
      records: N(released.records),
    };
    if (plain.byteLength + SEAL_OVERHEAD <= this.deps.inlineMaxBytes) {
      return { attributes: { ...meta, body: B(sealed) } };
    }
    const objectKey = replayObjectKey(agreement, eventId);
    await this.deps.objects.put(objectKey, sealed, "keep the released body");
    return { attributes: { ...meta, bodyObject: S(objectKey) }, objectKey };
  }

  /** Deletes what a stash wrote, when its metering did not commit. Best effort: it expires anyway. */
  async discard(stash: Stash | undefined): Promise<void> {
    if (stash?.objectKey !== undefined) await this.deleteObject(stash.objectKey);
  }

  /** Deletes the object of a claim that was replaced. Best effort. */
  async discardClaim(claim: IdempotencyClaim | undefined): Promise<void> {
    const objectKey = str(claim?.item, "bodyObject");
    if (objectKey !== undefined) await this.deleteObject(objectKey);
  }

  /**
   * The body a claim keeps, or undefined when it keeps none (a deliver's
   * claim, one written before bodies were kept, or an object gone). A body
   * that does not open (altered, or not this claim's) is none either.
   * Throws StoreUnavailableError when the object store cannot answer.
   */
  async open(
    agreement: string,
    claimPk: string,
    claim: IdempotencyClaim,
  ): Promise<Released | undefined> {
    const contentType = str(claim.item, "contentType");
    const records = num(claim.item, "records") ?? Number.NaN;
    if (claim.eventId === undefined || contentType === undefined || !Number.isInteger(records))
      return undefined;
    const inline = claim.item.body?.B;
    const objectKey = str(claim.item, "bodyObject");
    const sealed =
      inline ??
      (objectKey === undefined
        ? undefined
        : await this.deps.objects.get(objectKey, "read the released body"));
    if (sealed === undefined) return undefined;
    const key = await this.deps.pseudonyms.derive(keyLabel(agreement));
    const plain = open(key, sealed, aad(claimPk, claim.eventId, contentType, records));
    if (plain === null) return undefined;
    return { body: Buffer.from(plain).toString("utf8"), contentType, records };
  }

  private async deleteObject(objectKey: string): Promise<void> {
    await this.deps.objects.delete(objectKey, "delete a released body").catch(() => undefined);
  }
}
