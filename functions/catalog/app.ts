/**
 * Partner self-service (scope `catalog`, an active partner): the catalog,
 * offers on the caller's own datasets, and agreement requests.
 */
import { Hono } from "hono";
import { catalogDocument } from "../../policies/catalog.ts";
import { requireActivePartner } from "../exchange/app.ts";
import type { Gateway } from "../gateway.ts";
import { authenticate, requireScope } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { declaredBodyLimit } from "../http/middleware.ts";
import {
  MAX_JSON_BODY_BYTES,
  parseWith,
  readJsonWith,
  readOptionalJson,
} from "../http/validate.ts";
import { SelfServiceStore } from "../store/self-service.ts";
import { CATALOG_SCOPE } from "../token/grant.ts";
import { partnerActor } from "./actor.ts";
import { catalogPage } from "./catalog.ts";
import { listOffers, publishOffer, withdrawOffer } from "./offers.ts";
import { idParam, stepReason, wantsLd } from "./params.ts";
import { createRequest, readRequest, stepRequest } from "./requests.ts";
import {
  AgreementRequestInput,
  CatalogQuery,
  OfferInput,
  OfferListQuery,
  OptionalReasonBody,
  RequestListQuery,
} from "./schemas.ts";

export function selfServiceApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const guard = [
    declaredBodyLimit(MAX_JSON_BODY_BYTES),
    authenticate(gw),
    requireScope(CATALOG_SCOPE),
    requireActivePartner(gw),
  ] as const;
  for (const path of [
    "/v1/catalog",
    "/v1/datasets/*",
    "/v1/agreement-requests",
    "/v1/agreement-requests/*",
  ]) {
    app.use(path, ...guard);
  }

  app.get("/v1/catalog", async (c) => {
    const q = parseWith(CatalogQuery, c.req.query());
    const caller = (await gw.registry.getPartner(c.get("claims").sub))?.value;
    // requireActivePartner read the partner a moment ago; gone since: nothing to show.
    const page =
      caller === undefined
        ? { items: [], next: null }
        : await catalogPage(gw, caller, q.limit, q.cursor);
    c.header("Vary", "Accept");
    c.header("Cache-Control", "no-store");
    if (!wantsLd(c.req.header("Accept"))) return c.json(page);
    const doc = catalogDocument(page.items, {
      id: `${gw.settings.issuer}/v1/catalog`,
      next: page.next,
    });
    return c.body(JSON.stringify(doc), 200, { "Content-Type": "application/ld+json" });
  });

  app.post("/v1/datasets/:id/offers", async (c) => {
    const input = await readJsonWith(c, OfferInput);
    return c.json(await publishOffer(gw, c, idParam(c, "id"), input, partnerActor(c)), 201);
  });

  app.get("/v1/datasets/:id/offers", async (c) => {
    const { status } = parseWith(OfferListQuery, c.req.query());
    const items = await listOffers(gw, idParam(c, "id"), status, partnerActor(c));
    return c.json({ items, next: null });
  });

  app.delete("/v1/datasets/:id/offers/:offer", async (c) => {
    const { reason } = parseWith(OptionalReasonBody, await readOptionalJson(c));
    return c.json(
      await withdrawOffer(gw, c, idParam(c, "id"), idParam(c, "offer"), reason, partnerActor(c)),
    );
  });

  app.post("/v1/agreement-requests", async (c) => {
    const input = await readJsonWith(c, AgreementRequestInput);
    return c.json(await createRequest(gw, c, c.get("claims").sub, input), 201);
  });

  app.get("/v1/agreement-requests", async (c) => {
    const q = parseWith(RequestListQuery, c.req.query());
    const page = await new SelfServiceStore(gw.db).listRequests(
      { partner: c.get("claims").sub, state: q.state, role: q.role },
      q.limit,
      q.cursor,
    );
    return c.json(page);
  });

  app.get("/v1/agreement-requests/:id", async (c) =>
    c.json(await readRequest(gw, idParam(c, "id"), partnerActor(c))),
  );

  for (const step of ["approve", "reject", "cancel"] as const) {
    app.post(`/v1/agreement-requests/:id/${step}`, async (c) => {
      const reason = await stepReason(c, step);
      return c.json(await stepRequest(gw, c, idParam(c, "id"), step, partnerActor(c), reason));
    });
  }

  return app;
}
