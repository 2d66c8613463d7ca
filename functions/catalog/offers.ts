/**
 * Offers on datasets: published and withdrawn by the dataset's owner or an
 * operator, validated by the agreement rules (a core field is never offered).
 */
import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import type { RuleIssue } from "../../policies/agreement-rules.ts";
import { checkOffer, newOffer, type Offer, type OfferInput } from "../../policies/offers.ts";
import { loadDataset } from "../admin/datasets.ts";
import { ConflictError, ForbiddenError, NotFoundError, RuleViolationError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { SelfServiceStore } from "../store/self-service.ts";
import type { Actor } from "./actor.ts";

export function enforceRules(issues: readonly RuleIssue[]): void {
  const [first] = issues;
  if (first !== undefined) throw new RuleViolationError(first.code, first.message, issues);
}

/** The dataset, if the actor may manage its offers: its owner, or an operator. */
async function managedDataset(gw: Gateway, id: string, actor: Actor) {
  const { value } = await loadDataset(gw, id);
  if (actor.kind === "partner" && value.owner !== actor.id) {
    throw new ForbiddenError("not_party", `only the owner of dataset ${id} manages its offers`);
  }
  return value;
}

export async function publishOffer(
  gw: Gateway,
  c: Context<AppEnv>,
  datasetId: string,
  input: OfferInput,
  actor: Actor,
): Promise<Offer> {
  const dataset = await managedDataset(gw, datasetId, actor);
  const now = gw.clock();
  const offer = newOffer(
    input,
    {
      id: input.id ?? `off-${randomBytes(8).toString("hex")}`,
      dataset: dataset.id,
      provider: dataset.owner,
      publishedBy: actor.id,
    },
    now,
  );
  const shareIds = offer.valueShares.map((s) => s.partner);
  const [partners, trade] = await Promise.all([
    gw.registry.getPartners([offer.provider, ...shareIds]),
    gw.registry.getTradeRules(),
  ]);
  enforceRules(
    checkOffer(
      offer,
      {
        dataset,
        provider: partners.get(offer.provider),
        sharePartners: new Map(shareIds.map((id) => [id, partners.get(id)])),
        tradeRules: trade.value,
      },
      now,
    ),
  );
  const result = await gw.audit.append(
    {
      actor: actor.id,
      action: "offer.publish",
      target: `offer:${offer.id}`,
      requestId: c.get("requestId"),
      partners: [offer.provider],
      details: { offer },
    },
    new SelfServiceStore(gw.db).offerCreateOps(offer),
  );
  if (!result.ok) throw new ConflictError(`the offer id ${offer.id} is taken`);
  return offer;
}

async function loadOffer(gw: Gateway, datasetId: string, offerId: string) {
  const found = await new SelfServiceStore(gw.db).getOffer(offerId);
  if (found === undefined || found.value.dataset !== datasetId) {
    throw new NotFoundError(
      "offer_not_found",
      `offer ${offerId} does not exist on dataset ${datasetId}`,
    );
  }
  return found;
}

/** Withdraws an offer: it leaves the catalog and takes no new requests. A repeat is a no-op. */
export async function withdrawOffer(
  gw: Gateway,
  c: Context<AppEnv>,
  datasetId: string,
  offerId: string,
  reason: string | undefined,
  actor: Actor,
): Promise<Offer> {
  await managedDataset(gw, datasetId, actor);
  for (let attempt = 0; attempt < 3; attempt++) {
    const { value, rev } = await loadOffer(gw, datasetId, offerId);
    if (value.status === "withdrawn") return value;
    const at = gw.clock().toISOString();
    const withdrawn: Offer = {
      ...value,
      status: "withdrawn",
      updatedAt: at,
      withdrawnAt: at,
      withdrawnBy: actor.id,
      ...(reason === undefined ? {} : { withdrawReason: reason }),
    };
    const result = await gw.audit.append(
      {
        actor: actor.id,
        action: "offer.withdraw",
        target: `offer:${offerId}`,
        reason: reason ?? null,
        requestId: c.get("requestId"),
        partners: [value.provider],
      },
      new SelfServiceStore(gw.db).offerUpdateOps(withdrawn, rev),
    );
    if (result.ok) return withdrawn;
  }
  throw new ConflictError("the offer kept changing; read it again and retry");
}

/** A dataset's offers for its owner or an operator, newest first. */
export async function listOffers(
  gw: Gateway,
  datasetId: string,
  status: Offer["status"] | undefined,
  actor: Actor,
): Promise<Offer[]> {
  await managedDataset(gw, datasetId, actor);
  const offers = await new SelfServiceStore(gw.db).datasetOffers(datasetId, status !== "active");
  return status === undefined ? offers : offers.filter((o) => o.status === status);
}
