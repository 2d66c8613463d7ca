/**
 * Telling counterparties: an event is fanned out to the parties it concerns
 * and delivered to each backend as a JWS signed with the gateway's keys
 * (POST {baseUrl}/gateway-events, application/jose), with retries and
 * exponential backoff; every attempt's outcome is stored for operators.
 */
import { signJws } from "../auth/jws.ts";
import type { Gateway } from "../gateway.ts";
import type { Delivery, GatewayEvent } from "../store/outbox.ts";

export const EVENTS_PATH = "/gateway-events";
export const MAX_ATTEMPTS = 8;
const TIMEOUT_MS = 5000;

/** Who must hear of an event: the other parties of the agreements it touches. */
export async function recipientsOf(gw: Gateway, event: GatewayEvent): Promise<string[]> {
  if (event.subject.kind === "agreement") {
    const a = (await gw.registry.getAgreement(event.subject.id))?.value;
    return a === undefined ? [] : [a.provider, a.consumer];
  }
  const partner = event.subject.id;
  const page = await gw.registry.listAgreements(1000, undefined, partner);
  const others = page.items.map((a) => (a.provider === partner ? a.consumer : a.provider));
  return [...new Set(others)].filter((p) => p !== partner);
}

export async function fanOutNewEvents(gw: Gateway): Promise<number> {
  const events = await gw.outbox.newEvents();
  for (const event of events) {
    await gw.outbox.fanOut(event, await recipientsOf(gw, event), gw.clock());
  }
  return events.length;
}

const backoffMs = (attempts: number) => Math.min(3_600_000, 1000 * 2 ** attempts);

export async function attemptDelivery(gw: Gateway, d: Delivery): Promise<Delivery> {
  const now = gw.clock();
  const partner = (await gw.registry.getPartner(d.recipient))?.value;
  let error: string | null = null;
  if (partner === undefined) {
    error = "the recipient is not a partner";
  } else {
    const jws = await signJws(
      gw.keys.signer,
      { typ: "gateway-event+jwt" },
      {
        iss: gw.settings.issuer,
        aud: d.recipient,
        iat: Math.floor(now.getTime() / 1000),
        jti: d.id,
        event: d.event,
      },
    );
    const url = new URL(`${partner.baseUrl.replace(/\/+$/, "")}${EVENTS_PATH}`);
    const res = await gw.transport({
      method: "POST",
      url,
      headers: { "Content-Type": "application/jose", "User-Agent": "data-sharing-gateway/1" },
      body: Buffer.from(jws),
      timeoutMs: TIMEOUT_MS,
      maxBytes: 16 * 1024,
    });
    if (!res.ok) error = `${res.kind}: ${res.message}`;
    else if (res.status < 200 || res.status > 299) error = `the backend answered ${res.status}`;
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
  await gw.outbox.settle(d, after);
  return after;
}

/** One pass: fan out new events, attempt every due delivery. */
export async function processOutbox(gw: Gateway): Promise<{ events: number; attempts: number }> {
  const events = await fanOutNewEvents(gw);
  const due = await gw.outbox.dueDeliveries(gw.clock());
  await Promise.all(due.map((d) => attemptDelivery(gw, d)));
  return { events, attempts: due.length };
}
