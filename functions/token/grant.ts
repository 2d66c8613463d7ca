/**
 * Which scopes a client may have. Partners get `agreement:<id>` for active
 * agreements they are party to, and `catalog` (self-service) when they ask
 * for it; a phased-out partner only `attestation`;
 * operator and finance clients only their role. Suspended or revoked
 * partners get nothing (the caller answers invalid_client).
 */
import { agreementScope } from "../../policies/decide.ts";
import { type Agreement, ID_PATTERN, type Partner } from "../../policies/model.ts";
import { agreementStatusAt, partnerStatusAt } from "../../policies/status.ts";
import type { Gateway } from "../gateway.ts";
import type { ClientRecord } from "../store/credentials.ts";
import type { AgreementBinding } from "../store/registry.ts";
import { OAuthError } from "./oauth-error.ts";
import type { Prefetched } from "./token-reads.ts";

/** The self-service scope (catalog, offers, agreement requests). */
export const CATALOG_SCOPE = "catalog";

export interface Grant {
  readonly scopes: string[];
  readonly bind: Record<string, AgreementBinding>;
  /** The partner takes only DPoP-bound tokens (`requireDpop`). */
  readonly requireDpop?: boolean;
}

const MAX_SCOPES = 50;

export function parseScope(raw: string | null): string[] | null {
  if (raw === null) return null;
  if (raw.length > 4096 || !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(raw)) {
    throw new OAuthError(
      400,
      "invalid_scope",
      "scope is not a space-separated list of scope tokens",
    );
  }
  const scopes = [...new Set(raw.split(" "))];
  if (scopes.length > MAX_SCOPES)
    throw new OAuthError(400, "invalid_scope", `at most ${MAX_SCOPES} scopes`);
  return scopes;
}

/**
 * The agreement ids a `scope` names, or none when it names none or is not
 * well formed (grantScopes says why, after the client is authenticated).
 */
export function scopeAgreementIds(raw: string | null): string[] {
  try {
    const asked = parseScope(raw)?.filter((s) => s !== CATALOG_SCOPE) ?? [];
    return agreementIds(asked);
  } catch {
    return [];
  }
}

/**
 * `prefetched`: what was read with the client (token-reads.ts); anything it
 * does not hold is read here.
 */
export async function grantScopes(
  gw: Pick<Gateway, "registry" | "clock">,
  client: ClientRecord,
  requested: string[] | null,
  prefetched?: Prefetched,
): Promise<Grant> {
  if (client.role !== "partner") {
    const role = client.role;
    if (requested?.some((s) => s !== role)) {
      throw new OAuthError(400, "invalid_scope", `this client may only have the scope ${role}`);
    }
    return { scopes: [role], bind: {} };
  }
  const now = gw.clock();
  const partner = prefetched?.parties.has(client.id)
    ? prefetched.parties.get(client.id)
    : (await gw.registry.getPartner(client.id))?.value;
  if (partner === undefined)
    throw new OAuthError(401, "invalid_client", "the partner no longer exists", true);
  const status = partnerStatusAt(partner, now);
  if (status === "suspended" || status === "revoked") {
    throw new OAuthError(401, "invalid_client", `the partner is ${status}`, true);
  }
  if (status === "offboarded") {
    if (requested?.some((s) => s !== "attestation")) {
      throw new OAuthError(
        400,
        "invalid_scope",
        "a phased-out partner may only have the scope attestation",
      );
    }
    return { scopes: ["attestation"], bind: {}, requireDpop: partner.requireDpop === true };
  }
  // `catalog` is any active partner's: it opens the self-service routes and nothing else.
  const requireDpop = partner.requireDpop === true;
  const catalog = requested?.includes(CATALOG_SCOPE) === true ? [CATALOG_SCOPE] : [];
  const asked = requested?.filter((s) => s !== CATALOG_SCOPE) ?? null;
  if (asked !== null && asked.length === 0) return { scopes: catalog, bind: {}, requireDpop };
  const ids = asked === null ? await partyAgreementIds(gw, client.id) : agreementIds(asked);
  const agreements =
    prefetched !== undefined && ids.every((id) => prefetched.agreements.has(id))
      ? prefetched.agreements
      : await gw.registry.getAgreements(ids);
  const parties = await readParties(gw, agreements, prefetched?.parties);
  const bind: Record<string, AgreementBinding> = {};
  for (const id of ids) {
    const a = agreements.get(id);
    const problem =
      a === undefined
        ? `agreement ${id} does not exist`
        : a.provider !== client.id && a.consumer !== client.id
          ? `the client is no party to agreement ${id}`
          : agreementStatusAt(a, [parties.get(a.provider), parties.get(a.consumer)], now) !==
              "active"
            ? `agreement ${id} is not active`
            : null;
    if (problem !== null && requested !== null) throw new OAuthError(400, "invalid_scope", problem);
    if (problem === null && a !== undefined) {
      bind[id] = { provider: a.provider, consumer: a.consumer, dataset: a.dataset };
    }
  }
  const scopes = [...catalog, ...Object.keys(bind).map(agreementScope)];
  if (scopes.length === 0)
    throw new OAuthError(400, "invalid_scope", "the partner has no active agreement");
  return { scopes, bind, requireDpop };
}

/** Both parties of every agreement found: those not read yet in one more read. */
async function readParties(
  gw: Pick<Gateway, "registry">,
  agreements: ReadonlyMap<string, Agreement | undefined>,
  known: ReadonlyMap<string, Partner | undefined> = new Map(),
): Promise<ReadonlyMap<string, Partner | undefined>> {
  const needed = [...agreements.values()].flatMap((a) =>
    a === undefined ? [] : [a.provider, a.consumer],
  );
  const missing = needed.filter((id) => !known.has(id));
  if (missing.length === 0) return known;
  return new Map([...known, ...(await gw.registry.getPartners(missing))]);
}

function agreementIds(requested: string[]): string[] {
  return requested.map((s) => {
    if (s === "admin" || s === "metrics:read" || s === "metrics:close" || s === "attestation") {
      throw new OAuthError(400, "invalid_scope", `a partner client may not have the scope ${s}`);
    }
    const id = s.startsWith("agreement:") ? s.slice("agreement:".length) : null;
    if (id === null || !ID_PATTERN.test(id))
      throw new OAuthError(400, "invalid_scope", `unknown scope ${s}`);
    return id;
  });
}

/** The partner's agreements (newest first), for a request without `scope`. */
async function partyAgreementIds(
  gw: Pick<Gateway, "registry">,
  partner: string,
): Promise<string[]> {
  const page = await gw.registry.listAgreements(MAX_SCOPES, undefined, partner);
  return page.items.map((a) => a.id);
}
