/**
 * Agreement requests: a partner asks for an offer, the provider (or an
 * operator) approves or rejects, the consumer may cancel while it waits.
 * Every step is one transaction with its audit entry and the signed event to
 * both parties; an approval also writes the agreement it makes (active,
 * version 1), so a request is never agreed without its agreement or the
 * other way round. Of two concurrent steps on one request exactly one wins:
 * each is conditioned on the revision it read and on `requested`.
 */
import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { checkAgreement } from "../../policies/agreement-rules.ts";
import {
  type AgreementRequest,
  type AgreementRequestInput,
  agreementDraftOf,
  agreementOf,
  checkStep,
  type RequestStep,
  requestTerms,
  type StepCode,
} from "../../policies/offers.ts";
import { contextFor } from "../admin/agreements.ts";
import {
  ConflictError,
  ForbiddenError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  RuleViolationError,
} from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import type { EventType } from "../store/outbox.ts";
import { SelfServiceStore } from "../store/self-service.ts";
import type { Actor } from "./actor.ts";
import { enforceRules } from "./offers.ts";

const EVENT_OF: Readonly<Record<RequestStep, EventType>> = {
  approve: "agreement_request.approved",
  reject: "agreement_request.rejected",
  cancel: "agreement_request.cancelled",
};

/** What the events tell both parties (never a field they could not see in the request). */
const eventData = (r: AgreementRequest) => ({
  request: r.id,
  offer: r.offer,
  dataset: r.dataset,
  provider: r.provider,
  consumer: r.consumer,
  state: r.state,
  agreement: r.agreement,
});

export function stepError(code: StepCode, message: string): GatewayError {
  if (code === "agreement_request_not_found")
    return new NotFoundError("agreement_request_not_found", message);
  if (code === "not_party") return new ForbiddenError("not_party", message);
  return new GatewayError("invalid_transition", message);
}

export async function loadRequest(store: SelfServiceStore, id: string) {
  const found = await store.getRequest(id);
  if (found === undefined) {
    throw new NotFoundError(
      "agreement_request_not_found",
      `agreement request ${id} does not exist`,
    );
  }
  return found;
}

/** A request the caller may see: any for an operator, its own for a partner (404 otherwise). */
export async function readRequest(gw: Gateway, id: string, actor: Actor) {
  const { value } = await loadRequest(new SelfServiceStore(gw.db), id);
  if (actor.kind === "partner" && actor.id !== value.provider && actor.id !== value.consumer) {
    throw new NotFoundError(
      "agreement_request_not_found",
      `agreement request ${id} does not exist`,
    );
  }
  return value;
}

/** The consumer asks for an offer (all of it, or a subset of its actions, fields, purposes). */
export async function createRequest(
  gw: Gateway,
  c: Context<AppEnv>,
  consumer: string,
  input: AgreementRequestInput,
): Promise<AgreementRequest> {
  const store = new SelfServiceStore(gw.db);
  const offer = (await store.getOffer(input.offer))?.value;
  if (offer === undefined || offer.status !== "active") {
    throw new NotFoundError(
      "offer_not_found",
      `offer ${input.offer} does not exist or was withdrawn`,
    );
  }
  if (offer.provider === consumer) {
    throw new InvalidRequestError("offer", "is an offer on the caller's own dataset");
  }
  const terms = requestTerms(offer, input);
  if (!terms.ok) {
    const [first] = terms.issues;
    throw new RuleViolationError(
      "not_in_offer",
      first?.message ?? "not in the offer",
      terms.issues,
    );
  }
  const now = gw.clock();
  const at = now.toISOString();
  const request: AgreementRequest = {
    id: `req-${randomBytes(10).toString("hex")}`,
    offer: offer.id,
    dataset: offer.dataset,
    provider: offer.provider,
    consumer,
    ...terms.terms,
    state: "requested",
    createdAt: at,
    updatedAt: at,
    agreement: null,
    decidedBy: null,
    reason: null,
  };
  // The agreement rules as they would hold if it were approved now.
  const draft = agreementDraftOf(request, now);
  enforceRules(checkAgreement(draft, await contextFor(gw, draft), now));
  const event = gw.outbox.newEvent(
    "agreement_request.created",
    { kind: "agreement_request", id: request.id },
    null,
    eventData(request),
    now,
  );
  const ops = [...store.requestOps(request, null), store.offerActiveCheck(offer.id)];
  const result = await gw.audit.append(
    {
      actor: c.get("claims").sub,
      action: "agreement_request.create",
      target: `agreement_request:${request.id}`,
      requestId: c.get("requestId"),
      partners: [request.provider, request.consumer],
      details: { request },
    },
    [...ops, gw.outbox.eventOps(event)],
  );
  if (!result.ok) {
    if (result.reasons[ops.length - 1] === "ConditionalCheckFailed") {
      throw new NotFoundError("offer_not_found", `offer ${offer.id} was withdrawn meanwhile`);
    }
    throw new ConflictError("the request could not be recorded; retry");
  }
  return request;
}

/**
 * Takes a step on a request. An approval checks the agreement rules again as
 * they hold now (a party suspended, an embargo since the request: 422 with
 * the rule's code, the request stays requested) and needs the offer still
 * published.
 */
export async function stepRequest(
  gw: Gateway,
  c: Context<AppEnv>,
  id: string,
  step: RequestStep,
  actor: Actor,
  reason: string | undefined,
): Promise<AgreementRequest> {
  const store = new SelfServiceStore(gw.db);
  for (let attempt = 0; attempt < 3; attempt++) {
    const { value, rev } = await loadRequest(store, id);
    const decision = checkStep(value, step, actor);
    if (!decision.ok) throw stepError(decision.code, decision.message);
    const now = gw.clock();
    const agreement = step === "approve" ? agreementOf(value, now) : undefined;
    if (agreement !== undefined) {
      enforceRules(checkAgreement(agreement, await contextFor(gw, agreement), now));
    }
    const updated: AgreementRequest = {
      ...value,
      state: decision.to,
      updatedAt: now.toISOString(),
      agreement: agreement?.id ?? null,
      decidedBy: actor.id,
      reason: reason ?? null,
    };
    const requestOps = store.requestOps(updated, rev);
    const offerCheck = agreement === undefined ? [] : [store.offerActiveCheck(value.offer)];
    const ops = [
      ...requestOps,
      ...offerCheck,
      ...(agreement === undefined ? [] : gw.registry.agreementOps(agreement, null, true)),
    ];
    const event = gw.outbox.newEvent(
      EVENT_OF[step],
      { kind: "agreement_request", id },
      reason ?? null,
      eventData(updated),
      now,
    );
    const result = await gw.audit.append(
      {
        actor: actor.id,
        action: `agreement_request.${step}`,
        target: `agreement_request:${id}`,
        reason: reason ?? null,
        requestId: c.get("requestId"),
        partners: [value.provider, value.consumer],
        details: {
          from: value.state,
          to: updated.state,
          ...(agreement === undefined ? {} : { agreement }),
        },
      },
      [...ops, gw.outbox.eventOps(event)],
    );
    if (result.ok) return updated;
    // Another step won the race: read again, and answer as the state it left demands.
    if (result.reasons[0] === "ConditionalCheckFailed") continue;
    if (offerCheck.length > 0 && result.reasons[requestOps.length] === "ConditionalCheckFailed") {
      throw new GatewayError(
        "invalid_transition",
        `offer ${value.offer} was withdrawn: the request can only be rejected or cancelled`,
      );
    }
    throw new ConflictError(`the agreement ${agreement?.id ?? ""} could not be written; retry`);
  }
  throw new ConflictError("the request kept changing; read it again and retry");
}
