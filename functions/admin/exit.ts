/**
 * Operators: what a leaving partner received and must delete (its exit
 * obligations), and attestations recorded for partners that cannot post them.
 */
import type { Hono } from "hono";
import { AttestationInput } from "../../policies/model.ts";
import { hourKey } from "../../policies/windows.ts";
import { recordAttestation } from "../attestations.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readJsonWith } from "../http/validate.ts";
import { loadPartner, withEffectiveStatus } from "./partners.ts";

export function registerExitRoutes(app: Hono<AppEnv>, gw: Gateway): void {
  app.get("/:id/exit", async (c) => {
    const now = gw.clock();
    const partner = withEffectiveStatus((await loadPartner(gw, c.req.param("id"))).value, now);
    const agreements = await gw.registry.allAgreements(partner.id);
    const received = agreements.filter((a) => a.consumer === partner.id);
    const earliest = received.reduce((t, a) => Math.min(t, Date.parse(a.createdAt)), now.getTime());
    const rows = await gw.meterReader.hourRows(
      received.map((a) => a.id),
      hourKey(new Date(earliest)),
      hourKey(now),
    );
    const attestations = await gw.registry.listAttestations(partner.id);
    const items = received.map((a) => {
      const mine = rows.filter((r) => r.agreement === a.id);
      const attestation = attestations.find((t) => t.agreement === a.id) ?? null;
      const records = mine.reduce((n, r) => n + r.records, 0);
      return {
        agreement: a.id,
        dataset: a.dataset,
        provider: a.provider,
        fields: a.fields,
        records,
        requests: mine.reduce((n, r) => n + r.requests, 0),
        retentionDays: a.retentionDays ?? null,
        attestation,
        outstanding: records > 0 && attestation === null,
      };
    });
    return c.json({
      partner: partner.id,
      status: partner.status,
      leaving: partner.status === "revoked" || partner.status === "offboarded",
      received: items,
      outstanding: items.filter((i) => i.outstanding).map((i) => i.agreement),
    });
  });

  app.post("/:id/attestations", async (c) => {
    const input = await readJsonWith(c, AttestationInput);
    const partner = (await loadPartner(gw, c.req.param("id"))).value;
    return c.json(await recordAttestation(gw, c, partner.id, input), 201);
  });
}
