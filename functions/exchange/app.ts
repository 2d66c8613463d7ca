/**
 * Partners' surface: exchanges (read and deliver), their own agreements and
 * usage, and deletion attestations after a phase-out.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { AttestationInput, ID_PATTERN, Purpose } from "../../policies/model.ts";
import { partnerStatusAt } from "../../policies/status.ts";
import { recordAttestation } from "../attestations.ts";
import { ForbiddenError, GatewayError, InvalidRequestError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import {
  authenticate,
  refuseIfRotated,
  requireAgreementScope,
  requireScope,
} from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { declaredBodyLimit, readBodyCapped } from "../http/middleware.ts";
import { rawTargetOf } from "../http/raw-target.ts";
import { parseWith, readJsonWith } from "../http/validate.ts";
import { FlowsQuery, flowRows, parseWindow } from "../metrics/flows.ts";
import type { QuotaCounter } from "../store/meter-keys.ts";
import { checkQuery, invalidPath, subpathSegments } from "./path.ts";
import { CallerGone, type ExchangeOutput, ExchangeService } from "./service.ts";

/** What an Idempotency-Key may be (the OpenAPI document states the same pattern). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const PREFIX = "/v1/exchange/";

/** Splits the raw target into agreement id, raw subpath and raw query. */
export function parseExchangeTarget(target: string): {
  agreementId: string;
  subpath: string;
  query: string;
} {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  if (!path.startsWith(PREFIX)) throw invalidPath("not an exchange path");
  const rest = path.slice(PREFIX.length);
  const slash = rest.indexOf("/");
  const agreementId = slash < 0 ? rest : rest.slice(0, slash);
  if (!ID_PATTERN.test(agreementId))
    throw new InvalidRequestError("agreementId", "is not a valid id");
  return { agreementId, subpath: slash < 0 ? "" : rest.slice(slash), query };
}

export function exchangeApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const service = new ExchangeService(gw);

  const exchange = (action: "read" | "deliver") =>
    async function exchangeHandler(c: import("hono").Context<AppEnv>) {
      const target = parseExchangeTarget(rawTargetOf(c));
      const segments = subpathSegments(target.subpath);
      const rawQuery = action === "read" ? checkQuery(target.query) : "";
      const claims = c.get("claims");
      if (!claims.scopes.includes(`agreement:${target.agreementId}`)) {
        throw new ForbiddenError(
          "scope_missing",
          `the token does not carry agreement:${target.agreementId}`,
        );
      }
      const purposeHeader = c.req.header("Data-Purpose");
      if (purposeHeader !== undefined && !Purpose.safeParse(purposeHeader).success) {
        throw new InvalidRequestError("Data-Purpose", "is not a purpose token");
      }
      const idempotencyKey = c.req.header("Idempotency-Key");
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new InvalidRequestError(
          "Idempotency-Key",
          "must be 1 to 255 visible ASCII characters",
        );
      }
      const body =
        action === "deliver"
          ? {
              bytes: await readBodyCapped(c.req.raw, gw.settings.maxBodyBytes),
              contentType: c.req.header("Content-Type"),
              contentEncoding: c.req.header("Content-Encoding"),
            }
          : undefined;
      let out: ExchangeOutput;
      try {
        out = await service.run({
          action,
          agreementId: target.agreementId,
          segments,
          rawQuery,
          claims,
          purpose: purposeHeader,
          idempotencyKey,
          requestId: c.get("requestId"),
          accept: c.req.header("Accept"),
          proof: c.get("dpopProof"),
          body,
          signal: c.req.raw.signal,
        });
      } catch (err) {
        if (!(err instanceof CallerGone)) throw err;
        // Nobody reads this answer; nothing was metered or released.
        gw.log.info("caller_disconnected", { requestId: c.get("requestId") });
        return new Response(null, { status: 499 });
      }
      return c.body(out.body, 200, {
        "Content-Type": out.contentType,
        "X-Records": String(out.records),
        "Cache-Control": "no-store",
      });
    };

  // The exchange claims a DPoP proof itself: beside its state read (read) or
  // in its metering transaction (deliver), so the claim adds no round trip.
  app.use(
    "/v1/exchange/*",
    onlyGetAndPost(),
    declaredBodyLimit(gw.settings.maxBodyBytes),
    authenticate(gw, { claimsProof: true }),
  );
  app.get("/v1/exchange/*", exchange("read"));
  app.post("/v1/exchange/*", exchange("deliver"));
  // The methods the OpenAPI document names as 405 operations; onlyGetAndPost
  // answers them (and HEAD, which Hono routes to GET handlers) before these.
  app.on(["PUT", "PATCH", "DELETE"], "/v1/exchange/*", () => {
    throw methodNotAllowed();
  });

  app.get(
    "/v1/agreements",
    authenticate(gw),
    requireAgreementScope(),
    requireActivePartner(gw),
    async (c) => {
      const partner = c.get("claims").sub;
      const agreements = await gw.registry.allAgreements(partner);
      const now = gw.clock();
      const items = await Promise.all(
        agreements.map(async (a) => ({ ...a, quotaUsed: await quotaUsed(gw, a.id, a.quota, now) })),
      );
      return c.json({ items, next: null });
    },
  );

  app.get(
    "/v1/usage",
    authenticate(gw),
    requireAgreementScope(),
    requireActivePartner(gw),
    async (c) => {
      const partner = c.get("claims").sub;
      const window = parseWindow(c.req.query(), gw.clock());
      const { granularity, groupBy } = parseWith(FlowsQuery, c.req.query());
      const agreements = await gw.registry.allAgreements(partner);
      const items = await flowRows(gw.meterReader, agreements, window, granularity, groupBy);
      return c.json({ from: window.from.toISOString(), to: window.to.toISOString(), items });
    },
  );

  app.post(
    "/v1/attestations",
    authenticate(gw),
    requireScope("attestation"),
    requireCurrentPartnerCredentials(gw),
    async (c) => {
      const input = await readJsonWith(c, AttestationInput);
      return c.json(await recordAttestation(gw, c, c.get("claims").sub, input), 201);
    },
  );

  return app;
}

/**
 * A partner's own views are open while it is active: its status is read
 * fresh, as for an exchange, so a revoked or phased-out partner holding an
 * unexpired token sees nothing more.
 */
export function requireActivePartner(
  gw: Pick<Gateway, "registry" | "clock">,
): MiddlewareHandler<AppEnv> {
  return async function requireActivePartnerMiddleware(c, next) {
    const partner = (await gw.registry.getPartner(c.get("claims").sub))?.value;
    refuseIfRotated(c.get("claims"), partner?.credentialGeneration);
    const status = partner === undefined ? "revoked" : partnerStatusAt(partner, gw.clock());
    if (status === "suspended")
      throw new ForbiddenError("partner_suspended", "the partner is suspended");
    if (status === "revoked") throw new ForbiddenError("partner_revoked", "the partner is revoked");
    if (status === "offboarded")
      throw new ForbiddenError("partner_offboarded", "the partner was phased out");
    await next();
  };
}

/** A phased-out partner's attestations: its tokens still end with a rotation of its credentials. */
function requireCurrentPartnerCredentials(
  gw: Pick<Gateway, "registry">,
): MiddlewareHandler<AppEnv> {
  return async function requireCurrentPartnerCredentialsMiddleware(c, next) {
    const partner = (await gw.registry.getPartner(c.get("claims").sub))?.value;
    refuseIfRotated(c.get("claims"), partner?.credentialGeneration);
    await next();
  };
}

/**
 * Exchanges are GET (read) and POST (deliver), nothing else. Hono answers a
 * HEAD with its GET route (dropping the body); for an exchange that would be
 * a billed read that sends nothing, so the raw method is checked first.
 */
function onlyGetAndPost(): MiddlewareHandler<AppEnv> {
  return async function onlyGetAndPostMiddleware(c, next) {
    const method = c.req.raw.method;
    if (method !== "GET" && method !== "POST") throw methodNotAllowed();
    await next();
  };
}

const methodNotAllowed = () =>
  new GatewayError("method_not_allowed", "exchanges are GET (read) or POST (deliver)", {
    headers: { Allow: "GET, POST" },
  });

/** Today's requests and this month's records used, summed over the counter shards. */
async function quotaUsed(
  gw: Pick<Gateway, "meter">,
  agreement: string,
  quota: { requestsPerDay?: number; recordsPerMonth?: number } | undefined,
  now: Date,
) {
  const counts = await gw.meter.quotaCounts(
    agreement,
    ["requestsPerDay", "recordsPerMonth"],
    now,
    false,
  );
  const sum = (counter: QuotaCounter) => (counts.get(counter) ?? []).reduce((n, v) => n + v, 0);
  return {
    requestsToday: sum("requestsPerDay"),
    requestsPerDay: quota?.requestsPerDay ?? null,
    recordsThisMonth: sum("recordsPerMonth"),
    recordsPerMonth: quota?.recordsPerMonth ?? null,
  };
}
