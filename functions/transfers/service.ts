/**
 * The transfer routes' work: start a read transfer, open an upload, complete
 * it, and show a transfer (with a fresh URL for its consumer when ready).
 * Every step decides on fresh state as an exchange does: the same scope,
 * parties, status, purpose and trade rules, and the same 403 codes. A
 * transfer whose party or agreement stopped being active is marked
 * `revoked` and its objects deleted as soon as anyone looks at it (the
 * revocation path does so within a minute whether or not anyone looks).
 */
import { createHash, randomUUID } from "node:crypto";
import { decide, type ExchangeState } from "../../policies/decide.ts";
import type { Agreement } from "../../policies/model.ts";
import type { AccessClaims } from "../auth/tokens.ts";
import { ForbiddenError, GatewayError, NotFoundError, StoreUnavailableError } from "../errors.ts";
import { denialError } from "../exchange/denials.ts";
import { checkQuery, subpathSegments } from "../exchange/path.ts";
import type { Gateway } from "../gateway.ts";
import { refuseIfRotated } from "../http/auth.ts";
import type { Page } from "../store/paging.ts";
import { type TransferDirection, type TransferRecord, TransferStore } from "../store/transfers.ts";
import { bodyKey, transferPrefix, uploadKey } from "./keys.ts";
import { MAX_TRANSFER_ATTEMPTS, REVOKING_CODES } from "./limits.ts";
import { revokeTransfer } from "./revoke.ts";
import type { TransferView } from "./schemas.ts";
import { NO_TRANSFER_STORAGE } from "./storage.ts";

/** A fresh GET URL is valid for this long (the contract: at most 300 s). */
export const URL_SECONDS = 300;
/** An upload URL is valid for this long. */
export const UPLOAD_URL_SECONDS = 3600;
/** A running transfer no run took within this long is dispatched again when read. */
const UNCLAIMED_MS = 60_000;

export type TransferDeps = Pick<
  Gateway,
  | "db"
  | "registry"
  | "meter"
  | "settings"
  | "log"
  | "clock"
  | "telemetry"
  | "transferStorage"
  | "transferDispatcher"
>;

export interface Caller {
  readonly claims: AccessClaims;
  readonly purpose: string | undefined;
  readonly requestId: string;
}

export class TransferService {
  readonly store: TransferStore;

  constructor(private readonly gw: TransferDeps) {
    this.store = new TransferStore(gw.db);
  }

  /** Without storage for bodies, no transfer starts (fail closed: 503). */
  private requireStorage(): void {
    if (this.gw.transferStorage === NO_TRANSFER_STORAGE)
      throw new StoreUnavailableError(
        "start a transfer",
        new Error("the gateway has no transfer storage"),
      );
  }

  /** POST /v1/transfers: 202 and a new running transfer, or 200 and the one the key named. */
  async start(
    caller: Caller,
    input: { agreement: string; subpath?: string | undefined; query?: string | undefined },
    idempotencyKey: string | undefined,
  ): Promise<{ transfer: TransferRecord; created: boolean }> {
    this.requireStorage();
    subpathSegments(input.subpath ?? "");
    if (input.query !== undefined) checkQuery(input.query);
    const agreement = await this.permit(caller, input.agreement, "read");
    const t = this.newTransfer(caller, agreement, "read", "running", {
      subpath: input.subpath ?? null,
      query: input.query ?? null,
    });
    const fingerprint = createHash("sha256")
      .update(`read\n${input.subpath ?? ""}\n${input.query ?? ""}\n${caller.purpose ?? ""}`)
      .digest("base64url");
    const outcome = await this.store.create(
      t,
      idempotencyKey === undefined ? undefined : { key: idempotencyKey, fingerprint },
    );
    if (outcome.kind === "existing") return { transfer: outcome.transfer, created: false };
    await this.dispatch(t);
    return { transfer: t, created: true };
  }

  /** POST /v1/uploads: a transfer awaiting its body, and where to PUT it. */
  async openUpload(
    caller: Caller,
    input: { agreement: string; contentType: string; contentEncoding?: string | undefined },
  ) {
    this.requireStorage();
    const agreement = await this.permit(caller, input.agreement, "deliver");
    const t = this.newTransfer(caller, agreement, "deliver", "awaiting_upload", {
      contentType: input.contentType,
      contentEncoding: input.contentEncoding ?? null,
    });
    await this.store.create(t);
    const now = this.gw.clock();
    const put = await this.gw.transferStorage.presignPut(
      uploadKey(t.id),
      input.contentType,
      UPLOAD_URL_SECONDS,
      now,
    );
    return {
      ...viewOf(t, null, null),
      uploadUrl: put.url,
      headers: put.headers,
      expiresAt: new Date(now.getTime() + UPLOAD_URL_SECONDS * 1000).toISOString(),
    };
  }

  /** POST /v1/transfers/{id}/complete: the provider uploaded; the job runs. */
  async complete(caller: Caller, id: string): Promise<TransferRecord> {
    const found = await this.mine(caller, id);
    if (found.direction !== "deliver" || found.provider !== caller.claims.sub)
      throw new ForbiddenError("not_party", "only the provider completes its upload");
    // Decided under the purpose the upload was opened for (the call itself need not repeat it).
    await this.permit(
      { ...caller, purpose: found.purpose ?? undefined },
      found.agreement,
      "deliver",
    );
    if (found.state === "awaiting_upload" && !(await this.gw.transferStorage.has(uploadKey(id))))
      throw new GatewayError("invalid_transition", "nothing was uploaded to the upload URL yet");
    const now = this.gw.clock().toISOString();
    const moved = await this.store.update(id, (t) =>
      t.state === "awaiting_upload" ? { ...t, state: "running", updatedAt: now } : undefined,
    );
    const t = moved?.transfer ?? found;
    if (moved?.changed === true) await this.dispatch(t);
    else if (t.state === "awaiting_upload")
      throw new GatewayError("invalid_transition", "the upload cannot be completed now");
    return t;
  }

  /**
   * GET /v1/transfers/{id}: re-checks both parties and the agreement (a
   * transfer whose flow stopped is revoked here), expires a body past its
   * day, dispatches again a run that was lost, and gives the consumer of a
   * ready transfer a fresh URL.
   */
  async show(caller: Caller, id: string): Promise<TransferView> {
    let t = await this.mine(caller, id);
    const state = await this.recheck(caller, t);
    const now = this.gw.clock();
    if (
      t.state === "ready" &&
      t.bodyExpiresAt !== null &&
      Date.parse(t.bodyExpiresAt) <= now.getTime()
    )
      t = await this.expire(t);
    if (t.state === "running") t = await this.revive(t, now);
    if (t.state !== "ready" || t.consumer !== caller.claims.sub) return viewOf(t, null, null);
    // A URL never outlives the body, the agreement's term or a party's
    // phase-out: those end without an event, so no revocation pass would
    // catch a URL issued just before them.
    const until = Math.min(
      now.getTime() + URL_SECONDS * 1000,
      ...[
        t.bodyExpiresAt,
        state.agreement?.validUntil,
        state.provider?.phaseOutAt,
        state.consumer?.phaseOutAt,
      ].flatMap((at) => (at === undefined || at === null ? [] : [Date.parse(at)])),
    );
    const seconds = Math.max(1, Math.floor((until - now.getTime()) / 1000));
    const url = await this.gw.transferStorage.presignGet(bodyKey(t.id, t.attempt), seconds, now);
    return viewOf(t, url, new Date(now.getTime() + seconds * 1000).toISOString());
  }

  /** GET /v1/transfers?agreement=: a party's view of the agreement's transfers (no URLs). */
  async list(
    caller: Caller,
    agreementId: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<Page<TransferView>> {
    const state = await this.gw.registry.loadExchangeState(
      agreementId,
      caller.claims.bind[agreementId],
    );
    const a = state.agreement;
    if (a === undefined || (a.provider !== caller.claims.sub && a.consumer !== caller.claims.sub))
      throw new NotFoundError("agreement_not_found", `agreement ${agreementId} does not exist`);
    this.refuseInactive(caller, state, a.provider === caller.claims.sub ? "deliver" : "read");
    const page = await this.store.list(agreementId, limit, cursor);
    return { items: page.items.map((t) => viewOf(t, null, null)), next: page.next };
  }

  // ------------------------------------------------------------ steps

  /** Decides as an exchange of `action` by the caller would be; a deny is counted and thrown. */
  private async permit(caller: Caller, agreementId: string, action: TransferDirection) {
    const state = await this.gw.registry.loadExchangeState(
      agreementId,
      caller.claims.bind[agreementId],
    );
    const self = [state.provider, state.consumer].find((x) => x?.id === caller.claims.sub);
    refuseIfRotated(caller.claims, self?.credentialGeneration);
    const decision = decide(
      {
        caller: caller.claims.sub,
        scopes: caller.claims.scopes,
        agreementId,
        action,
        purpose: caller.purpose,
      },
      state,
      this.gw.clock(),
    );
    if (decision.decision === "deny") {
      if (state.agreement !== undefined) {
        this.gw.telemetry.flow(agreementId, action, { kind: "denied" });
        await this.gw.meter.countRefusal(state.agreement, "denied", this.gw.clock());
      }
      throw denialError(decision.reasons);
    }
    if (state.agreement === undefined) throw new Error("a permit without its agreement");
    return state.agreement;
  }

  /**
   * Both parties and the agreement, decided afresh: the state read when they
   * still hold; else the transfer is revoked, and the answer is the exchange's 403.
   */
  private async recheck(caller: Caller, t: TransferRecord): Promise<ExchangeState> {
    const state = await this.gw.registry.loadExchangeState(
      t.agreement,
      caller.claims.bind[t.agreement],
    );
    const self = [state.provider, state.consumer].find((x) => x?.id === caller.claims.sub);
    refuseIfRotated(caller.claims, self?.credentialGeneration);
    const decision = decide(
      {
        caller: t.direction === "read" ? t.consumer : t.provider,
        scopes: caller.claims.scopes,
        agreementId: t.agreement,
        action: t.direction,
        purpose: t.purpose ?? undefined,
      },
      state,
      this.gw.clock(),
    );
    if (decision.decision === "permit") return state;
    const [first] = decision.reasons;
    if (REVOKING_CODES.has(first.code)) await revokeTransfer(this.gw, this.store, t.id, first.code);
    throw denialError(decision.reasons);
  }

  private refuseInactive(caller: Caller, state: ExchangeState, action: TransferDirection): void {
    const decision = decide(
      {
        caller: caller.claims.sub,
        scopes: caller.claims.scopes,
        agreementId: state.agreement?.id ?? "",
        action,
        purpose: undefined,
      },
      state,
      this.gw.clock(),
    );
    if (decision.decision === "permit") return;
    const reasons = decision.reasons.filter(
      (r) => r.code !== "purpose_not_permitted" && r.code !== "action_not_permitted",
    );
    const [first, ...rest] = reasons;
    if (first !== undefined) throw denialError([first, ...rest]);
  }

  /** The transfer, if the caller is a party to it and its token carries the agreement. */
  private async mine(caller: Caller, id: string): Promise<TransferRecord> {
    const t = /^trf-[a-f0-9-]{36}$/.test(id) ? await this.store.get(id) : undefined;
    if (t === undefined || (t.provider !== caller.claims.sub && t.consumer !== caller.claims.sub))
      throw new NotFoundError("transfer_not_found", `transfer ${id} does not exist`);
    if (!caller.claims.scopes.includes(`agreement:${t.agreement}`))
      throw new ForbiddenError(
        "scope_missing",
        `the token does not carry agreement:${t.agreement}`,
      );
    return t;
  }

  private async expire(t: TransferRecord): Promise<TransferRecord> {
    const now = this.gw.clock().toISOString();
    const r = await this.store.update(t.id, (cur) =>
      cur.state === "ready" ? { ...cur, state: "expired", updatedAt: now } : undefined,
    );
    await this.gw.transferStorage.deleteAll(transferPrefix(t.id));
    return r?.transfer ?? t;
  }

  /** A run that was lost (its lease over, or never taken): dispatched again, or failed past its attempts. */
  private async revive(t: TransferRecord, now: Date): Promise<TransferRecord> {
    const lost =
      t.leaseUntil === null
        ? Date.parse(t.updatedAt) + UNCLAIMED_MS <= now.getTime()
        : t.leaseUntil <= now.getTime();
    if (!lost) return t;
    if (t.attempt < MAX_TRANSFER_ATTEMPTS) {
      // Marked as handed over again (free for a run to take, unclaimed since
      // now), so that concurrent reads dispatch it once.
      const moved = await this.store.update(t.id, (cur) =>
        cur.state === "running" && cur.updatedAt === t.updatedAt && cur.attempt === t.attempt
          ? { ...cur, updatedAt: now.toISOString(), leaseUntil: null }
          : undefined,
      );
      if (moved?.changed === true) await this.dispatch(moved.transfer);
      return moved?.transfer ?? t;
    }
    const failed = await this.store.update(t.id, (cur) =>
      cur.state === "running" && cur.attempt === t.attempt
        ? {
            ...cur,
            state: "failed",
            code: "transfer_interrupted",
            leaseUntil: null,
            updatedAt: now.toISOString(),
          }
        : undefined,
    );
    await this.gw.transferStorage.deleteAll(transferPrefix(t.id));
    return failed?.transfer ?? t;
  }

  private async dispatch(t: TransferRecord): Promise<void> {
    await this.gw.transferDispatcher.dispatch({ transferId: t.id }).catch((err: unknown) =>
      // The transfer stays running; a read after its lease dispatches it again.
      this.gw.log.error("transfer_dispatch_failed", { transfer: t.id, message: String(err) }),
    );
  }

  private newTransfer(
    caller: Caller,
    agreement: Agreement,
    direction: TransferDirection,
    state: "running" | "awaiting_upload",
    extra: Partial<TransferRecord>,
  ): TransferRecord {
    const now = this.gw.clock().toISOString();
    return {
      id: `trf-${randomUUID()}`,
      agreement: agreement.id,
      direction,
      state,
      createdAt: now,
      updatedAt: now,
      provider: agreement.provider,
      consumer: agreement.consumer,
      dataset: agreement.dataset,
      purpose: caller.purpose ?? null,
      subpath: null,
      query: null,
      contentType: null,
      contentEncoding: null,
      records: null,
      bytes: null,
      sha256: null,
      code: null,
      readyAt: null,
      bodyExpiresAt: null,
      attempt: 0,
      leaseUntil: null,
      requestId: caller.requestId,
      ...extra,
    };
  }
}

/** What a party sees of a transfer. */
export function viewOf(
  t: TransferRecord,
  url: string | null,
  expiresAt: string | null,
): TransferView {
  return {
    id: t.id,
    agreement: t.agreement,
    direction: t.direction,
    state: t.state,
    createdAt: t.createdAt,
    records: t.records,
    bytes: t.bytes,
    sha256: t.sha256,
    contentType: t.contentType,
    url,
    expiresAt,
    code: t.code,
  };
}
