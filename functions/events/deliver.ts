/**
 * Telling counterparties: an event is fanned out to the parties it concerns
 * and delivered to each backend as a JWS signed with the gateway's keys
 * (POST {baseUrl}/gateway-events, application/jose, header typ
 * `gateway-event+jwt`), with retries and exponential backoff; every
 * attempt's outcome is stored for operators.
 *
 * Delivery is at least once: a worker takes a delivery for one attempt (a
 * lease), so two workers do not send it together, and a worker that dies
 * mid-attempt leaves it due again. The JWS `jti` is the delivery id, stable
 * across attempts, so a backend drops repeats by it.
 */
import { signJws } from "../auth/jws.ts";
import type { Gateway } from "../gateway.ts";
import type { Delivery, GatewayEvent } from "../store/outbox.ts";
import { SelfServiceStore } from "../store/self-service.ts";
import { revokeTransfersFor } from "../transfers/revoke.ts";

export const EVENTS_PATH = "/gateway-events";
export const EVENT_JWT_TYPE = "gateway-event+jwt";
export const MAX_ATTEMPTS = 8;
/** How long a signed event is valid: a captured one cannot be replayed later. */
export const EVENT_JWT_LIFETIME_SECONDS = 300;
const TIMEOUT_MS = 5000;
/** An attempt's lease: longer than the attempt's timeout. */
const LEASE_MS = 4 * TIMEOUT_MS;

/** What delivering events uses of the gateway (never the meter, the audit trail or credentials). */
export type OutboxDeps = Pick<
  Gateway,
  | "db"
  | "registry"
  | "outbox"
  | "transport"
  | "keys"
  | "settings"
  | "log"
  | "clock"
  | "transferStorage"
>;

/**
 * Who must hear of an event: both parties of an agreement or of an agreement
 * request; the counterparties of a partner; the consumer of a transfer
 * (named in the event, which is written with the transfer's change).
 */
export async function recipientsOf(
  gw: Pick<Gateway, "db" | "registry">,
  event: GatewayEvent,
): Promise<string[]> {
  if (event.subject.kind === "agreement_request") {
    const r = (await new SelfServiceStore(gw.db).getRequest(event.subject.id))?.value;
    return r === undefined ? [] : [...new Set([r.provider, r.consumer])];
  }
  if (event.subject.kind === "transfer") {
    const consumer = event.data.consumer;
    return typeof consumer === "string" ? [consumer] : [];
  }
  if (event.subject.kind === "agreement") {
    const a = (await gw.registry.getAgreement(event.subject.id))?.value;
    return a === undefined ? [] : [...new Set([a.provider, a.consumer])];
  }
  const partner = event.subject.id;
  const others = new Set(
    (await gw.registry.allAgreements(partner)).map((a) =>
      a.provider === partner ? a.consumer : a.provider,
    ),
  );
  others.delete(partner);
  return [...others].sort();
}

export async function fanOutNewEvents(
  gw: Pick<Gateway, "db" | "registry" | "outbox" | "clock" | "transferStorage" | "log">,
): Promise<number> {
  const events = await gw.outbox.newEvents();
  for (const event of events) {
    // A flow that stopped takes its transfers' bodies with it, before anyone
    // is told (a failure leaves the event new: the next pass tries again).
    await revokeTransfersFor(gw, event);
    await gw.outbox.fanOut(event, await recipientsOf(gw, event), gw.clock());
  }
  return events.length;
}

/** Seconds to wait after the n-th failed attempt: 2, 4, 8, ... capped at an hour. */
export const backoffMs = (attempts: number) => Math.min(3_600_000, 1000 * 2 ** attempts);

/** The event as its recipient receives it: a compact JWS with the gateway's key. */
export function signEvent(
  gw: Pick<Gateway, "keys" | "settings">,
  d: Delivery,
  now: Date,
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return signJws(
    gw.keys.eventSigner,
    { typ: EVENT_JWT_TYPE },
    {
      iss: gw.settings.issuer,
      aud: d.recipient,
      iat,
      exp: iat + EVENT_JWT_LIFETIME_SECONDS,
      jti: d.id,
      event: d.event,
    },
  );
}

async function send(
  gw: Pick<Gateway, "registry" | "transport" | "keys" | "settings">,
  d: Delivery,
  now: Date,
): Promise<string | null> {
  const partner = (await gw.registry.getPartner(d.recipient))?.value;
  if (partner === undefined) return "the recipient is not a partner";
  const url = new URL(`${partner.baseUrl.replace(/\/+$/, "")}${EVENTS_PATH}`);
  const res = await gw.transport({
    method: "POST",
    url,
    headers: { "Content-Type": "application/jose", "User-Agent": "data-sharing-gateway/1" },
    body: Buffer.from(await signEvent(gw, d, now)),
    timeoutMs: TIMEOUT_MS,
    maxBytes: 16 * 1024,
  });
  if (!res.ok) return `${res.kind}: ${res.message}`;
  if (res.status < 200 || res.status > 299) return `the backend answered ${res.status}`;
  return null;
}

/**
 * One attempt at a due delivery; undefined when another worker has it. The
 * outcome is stored: delivered, pending with the next attempt after a
 * backoff, or failed after MAX_ATTEMPTS.
 */
export async function attemptDelivery(
  gw: OutboxDeps,
  due: Delivery,
): Promise<Delivery | undefined> {
  const now = gw.clock();
  const d = await gw.outbox.claim(due, now, LEASE_MS);
  if (d === undefined) return undefined;
  let error: string | null;
  try {
    error = await send(gw, d, now);
  } catch (err) {
    error = `the attempt failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const attempts = d.attempts + 1;
  const after: Delivery =
    error === null
      ? {
          ...d,
          state: "delivered",
          attempts,
          lastError: null,
          deliveredAt: now.toISOString(),
          nextAttemptAt: null,
        }
      : attempts >= MAX_ATTEMPTS
        ? { ...d, state: "failed", attempts, lastError: error, nextAttemptAt: null }
        : {
            ...d,
            attempts,
            lastError: error,
            nextAttemptAt: new Date(now.getTime() + backoffMs(attempts)).toISOString(),
          };
  const settled = await gw.outbox.settle(d, after);
  if (settled && after.state === "failed") {
    // Every attempt used: an operator must act (an alarm counts these lines).
    gw.log.error("event_delivery_failed", {
      delivery: d.id,
      event: d.event.type,
      recipient: d.recipient,
      attempts,
      lastError: error,
    });
  }
  return after;
}

/** One pass: fan out new events, attempt every due delivery. */
export async function processOutbox(gw: OutboxDeps): Promise<{ events: number; attempts: number }> {
  const events = await fanOutNewEvents(gw);
  const due = await gw.outbox.dueDeliveries(gw.clock());
  const done = await Promise.allSettled(due.map((d) => attemptDelivery(gw, d)));
  for (const r of done) {
    if (r.status === "rejected") gw.log.warn("event_delivery_error", { message: String(r.reason) });
  }
  return {
    events,
    attempts: done.filter((r) => r.status === "fulfilled" && r.value !== undefined).length,
  };
}
