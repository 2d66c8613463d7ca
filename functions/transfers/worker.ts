/**
 * A transfer's job, outside the request (the worker Lambda in AWS, this
 * process locally): take the transfer for one attempt, decide on fresh
 * state, stream the provider's answer (read) or the uploaded object
 * (deliver) through the guard into a staging key, then meter it with the
 * exchange's own metering transaction (status re-check, quotas, exactly
 * once), and only then copy the cut body to its final key and mark the
 * transfer `ready`, with its `transfer.ready` event in the same write.
 *
 * Nothing before the end: a leak, a failure or a crash leaves at most a
 * staging object (deleted, or never completed: a multipart upload that was
 * not finished is no object), and the transfer is never `ready` with a
 * partial body. A crashed run leaves its lease to end; the next run starts
 * over under a new attempt, and after MAX_TRANSFER_ATTEMPTS the transfer fails.
 */
import { decide, type ExchangeState } from "../../policies/decide.ts";
import type { Agreement, Dataset, Partner } from "../../policies/model.ts";
import { StoreUnavailableError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { MeteringOutcome, MeteringRequest, RefusalKind } from "../store/meter.ts";
import { type TransferRecord, type TransferState, TransferStore } from "../store/transfers.ts";
import type { TransferJob } from "./dispatch.ts";
import { bodyKey, stagingKey, transferPrefix, uploadKey } from "./keys.ts";
import {
  BODY_LIFETIME_MS,
  DEFAULT_TRANSFER_MAX_BYTES,
  MAX_TRANSFER_ATTEMPTS,
  REVOKING_CODES,
  TRANSFER_LEASE_MS,
} from "./limits.ts";
import { openTransferSource } from "./sources.ts";
import { CONTENT_TYPES, LeaseLost, type Staged, stageBody } from "./stage.ts";
import { TransferTools } from "./tools.ts";
import { meteringOf, TRANSFER_FINGERPRINT, transferClaimKey, unmeterTransfer } from "./unmeter.ts";

/** What a transfer's job uses of the gateway. */
export type TransferWorkerDeps = Pick<
  Gateway,
  | "db"
  | "registry"
  | "meter"
  | "audit"
  | "outbox"
  | "keys"
  | "pseudonyms"
  | "settings"
  | "log"
  | "clock"
  | "telemetry"
  | "addressPolicy"
  | "transferStorage"
>;

export interface TransferJobResult {
  readonly transferId: string;
  /** The transfer's state after this run; undefined when there is no such transfer. */
  readonly state: TransferState | undefined;
  /** False when the run did nothing (not running, or another run holds its lease). */
  readonly ran: boolean;
}

/** How long a run holds its transfer (a setting, so that tests need not wait minutes). */
const leaseMs = (deps: Pick<TransferWorkerDeps, "settings">): number =>
  deps.settings.transferLeaseMs ?? TRANSFER_LEASE_MS;

/** Decisions one run may take while the terms change under it. */
const MAX_ROUNDS = 3;

export async function runTransferJob(
  deps: TransferWorkerDeps,
  job: TransferJob,
): Promise<TransferJobResult> {
  const store = new TransferStore(deps.db);
  const taken = await take(deps, store, job.transferId);
  if (taken === undefined) return { transferId: job.transferId, state: undefined, ran: false };
  if (!taken.changed || taken.transfer.state !== "running")
    return { transferId: job.transferId, state: taken.transfer.state, ran: taken.changed };
  const run = new TransferRun(deps, store, taken.transfer);
  const state = await run.execute();
  return { transferId: job.transferId, state, ran: true };
}

/**
 * Takes a running transfer for a new attempt, unless another run holds it;
 * past the last attempt, fails it instead.
 */
async function take(deps: TransferWorkerDeps, store: TransferStore, id: string) {
  const now = deps.clock();
  const taken = await store.update(id, (t) => {
    if (t.state !== "running") return undefined;
    if (t.leaseUntil !== null && t.leaseUntil > now.getTime()) return undefined;
    if (t.attempt >= MAX_TRANSFER_ATTEMPTS)
      return {
        ...t,
        state: "failed",
        code: "transfer_interrupted",
        leaseUntil: null,
        updatedAt: now.toISOString(),
      };
    return {
      ...t,
      attempt: t.attempt + 1,
      leaseUntil: now.getTime() + leaseMs(deps),
      updatedAt: now.toISOString(),
    };
  });
  if (taken?.changed === true && taken.transfer.state === "failed") {
    deps.log.error("transfer_failed", { transfer: id, code: "transfer_interrupted" });
    await deps.transferStorage
      .deleteAll(transferPrefix(id))
      .catch((err: unknown) => deps.log.error("transfer_objects_kept", { transfer: id, err }));
    await giveBack(deps, taken.transfer);
  }
  return taken;
}

interface Permitted {
  readonly agreement: Agreement;
  readonly dataset: Dataset;
  readonly provider: Partner;
  readonly consumer: Partner;
  readonly state: ExchangeState & { replica?: number };
}

/** One attempt at one transfer. */
class TransferRun {
  private readonly tools: TransferTools;
  private readonly attempt: number;

  constructor(
    private readonly deps: TransferWorkerDeps,
    private readonly store: TransferStore,
    private readonly t: TransferRecord,
  ) {
    this.tools = TransferTools.of(deps);
    this.attempt = t.attempt;
  }

  async execute(): Promise<TransferState> {
    try {
      for (let round = 1; ; round++) {
        const p = await this.permit();
        if (!("agreement" in p)) return p.ended;
        const staged = await this.stage(p);
        if (!staged.ok) return await this.refused(p.agreement, staged);
        const outcome = await this.meter(p, staged);
        if (outcome.kind === "metered") await this.keepReceipt(outcome, staged);
        if (outcome.kind === "metered" || outcome.kind === "duplicate")
          return await this.release(p, staged, outcome);
        await this.discardStaging();
        if (outcome.kind === "quota_exceeded")
          return await this.end("failed", "quota_exceeded", p.agreement, "denied");
        if (outcome.kind === "proof_replayed" || round >= MAX_ROUNDS)
          return await this.end("failed", "agreement_inactive", p.agreement, "denied");
        // A status or the terms changed while it ran: decide again on fresh state.
      }
    } catch (err) {
      await this.discardStaging();
      if (err instanceof LeaseLost) {
        this.deps.log.warn("transfer_run_taken_over", {
          transfer: this.t.id,
          attempt: this.attempt,
        });
        return (await this.store.get(this.t.id))?.state ?? "running";
      }
      // Store trouble: nothing is released; the lease ends and a later run starts over.
      this.deps.log.error("transfer_run_failed", {
        transfer: this.t.id,
        attempt: this.attempt,
        message: String(err),
        cause: String((err as { cause?: unknown }).cause),
      });
      throw err;
    }
  }

  /** Decides on fresh state as the exchange would for the party that asked. */
  private async permit(): Promise<Permitted | { readonly ended: TransferState }> {
    const t = this.t;
    const state = await this.deps.registry.loadExchangeState(t.agreement);
    const decision = decide(
      {
        caller: t.direction === "read" ? t.consumer : t.provider,
        scopes: [`agreement:${t.agreement}`],
        agreementId: t.agreement,
        action: t.direction,
        purpose: t.purpose ?? undefined,
      },
      state,
      this.deps.clock(),
    );
    const { agreement, dataset, provider, consumer } = state;
    if (decision.decision === "deny" || !agreement || !dataset || !provider || !consumer) {
      const code = decision.decision === "deny" ? decision.reasons[0].code : "agreement_not_found";
      const ended = REVOKING_CODES.has(code) ? "revoked" : "failed";
      return { ended: await this.end(ended, code, agreement, "denied") };
    }
    return { agreement, dataset, provider, consumer, state };
  }

  /** The body, cut, under this attempt's staging key (a lease lost on the way stops it). */
  private async stage(p: Permitted): Promise<Staged> {
    const source = await openTransferSource(this.deps, this.tools, this.t, p);
    if (!source.ok) return { ok: false, source: source.refusal };
    return stageBody(this.deps.transferStorage, source, {
      plan: await this.tools.plans.planFor(p.agreement, p.dataset),
      key: stagingKey(this.t.id, this.attempt),
      maxDecodedBytes: this.deps.settings.transferMaxBytes ?? DEFAULT_TRANSFER_MAX_BYTES,
      watch: (stop) => this.keepLease(() => stop(new LeaseLost())),
    });
  }

  /**
   * Renews this run's lease while it streams (a body can take longer than a
   * lease locally); once another run holds the transfer, `lost` stops the stream.
   */
  private keepLease(lost: () => void): () => void {
    const timer = setInterval(() => {
      const now = this.deps.clock();
      this.store
        .update(this.t.id, (cur) =>
          this.holds(cur)
            ? {
                ...cur,
                leaseUntil: now.getTime() + leaseMs(this.deps),
                updatedAt: now.toISOString(),
              }
            : undefined,
        )
        .then((r) => {
          if (r !== undefined && !this.holds(r.transfer)) lost();
        })
        .catch((err: unknown) =>
          this.deps.log.warn("transfer_lease_unrenewed", {
            transfer: this.t.id,
            message: String(err),
          }),
        );
    }, leaseMs(this.deps) / 4);
    timer.unref();
    return () => clearInterval(timer);
  }

  private meteringRequest(p: Permitted, staged: Extract<Staged, { ok: true }>): MeteringRequest {
    return {
      agreement: p.agreement,
      action: this.t.direction,
      requestKey: this.t.requestId,
      // The transfer's own claim: a run after a crash that followed the
      // metering finds it and is not counted again.
      idempotencyKey: transferClaimKey(this.t.id),
      fingerprint: TRANSFER_FINGERPRINT,
      records: staged.records,
      bytes: staged.bytes,
      now: this.deps.clock(),
      // A transfer is metered once, after a run of up to 15 minutes that may
      // cross a month's end: its write always checks the month is still open.
      alwaysCheckClosedMonth: true,
      replica: p.state.replica,
      terms: {
        agreement: p.agreement.version,
        dataset: p.dataset.version,
        tradeRules: p.state.tradeRules.version,
      },
    };
  }

  private meter(p: Permitted, staged: Extract<Staged, { ok: true }>): Promise<MeteringOutcome> {
    return this.deps.meter.meter(this.meteringRequest(p, staged));
  }

  /**
   * Keeps what this run metered on the transfer, before anything that could
   * fail for long (the copy): if the run dies after this and the transfer
   * never becomes ready, whatever ends it gives this back.
   */
  private async keepReceipt(
    outcome: Extract<MeteringOutcome, { kind: "metered" }>,
    staged: Extract<Staged, { ok: true }>,
  ): Promise<void> {
    await this.store.update(this.t.id, (cur) =>
      this.holds(cur) ? { ...cur, metered: meteringOf(outcome, staged) } : undefined,
    );
  }

  /** Metered: the cut body to its final key, then `ready` (with its event) if this run still holds it. */
  private async release(
    p: Permitted,
    staged: Extract<Staged, { ok: true }>,
    outcome: Extract<MeteringOutcome, { kind: "metered" | "duplicate" }>,
  ): Promise<TransferState> {
    const { storage, deps, t } = { storage: this.deps.transferStorage, deps: this.deps, t: this.t };
    await storage.copy(stagingKey(t.id, this.attempt), bodyKey(t.id, this.attempt));
    const now = deps.clock();
    const ready = await this.store.update(
      t.id,
      (cur) =>
        this.holds(cur)
          ? {
              ...cur,
              state: "ready",
              code: null,
              records: staged.records,
              bytes: staged.bytes,
              sha256: staged.sha256,
              contentType: CONTENT_TYPES[staged.kind],
              readyAt: now.toISOString(),
              bodyExpiresAt: new Date(now.getTime() + BODY_LIFETIME_MS).toISOString(),
              leaseUntil: null,
              updatedAt: now.toISOString(),
            }
          : undefined,
      (cur) => [
        deps.outbox.eventOps(
          deps.outbox.newEvent(
            "transfer.ready",
            { kind: "transfer", id: cur.id },
            null,
            {
              agreement: cur.agreement,
              consumer: cur.consumer,
              direction: cur.direction,
              records: staged.records,
              bytes: staged.bytes,
              sha256: staged.sha256,
            },
            now,
          ),
        ),
      ],
    );
    await this.discardStaging();
    if (ready?.changed === true) {
      // An upload's body as the provider sent it is of no use once cut and ready.
      if (t.direction === "deliver")
        await storage
          .deleteAll(uploadKey(t.id))
          .catch((err: unknown) =>
            deps.log.warn("transfer_upload_left", { transfer: t.id, message: String(err) }),
          );
      if (outcome.kind === "metered")
        deps.telemetry.flow(t.agreement, t.direction, {
          kind: "released",
          records: staged.records,
          bytes: staged.bytes,
          value: outcome.value,
          currency: p.agreement.price.currency,
        });
      deps.log.info("transfer_ready", {
        transfer: t.id,
        records: staged.records,
        bytes: staged.bytes,
      });
      return "ready";
    }
    // Revoked or taken over meanwhile: this run's body is not the one served.
    await storage
      .deleteAll(bodyKey(t.id, this.attempt))
      .catch((err: unknown) => deps.log.error("transfer_objects_kept", { transfer: t.id, err }));
    const current = ready?.transfer ?? (await this.store.get(t.id));
    const stillOpen = current?.state === "running" || current?.state === "ready";
    if (!stillOpen) {
      // Ended without a release (revoked meanwhile): what was metered for it did
      // not happen, be it the receipt the transfer keeps (an earlier run's, found
      // here as a duplicate) or this run's own, if it had not kept it yet. Taken
      // over and still open: this metering is the one the other run's release
      // found as a duplicate, so it stands; a body another run released stays metered.
      const ended = current ?? t;
      const metered =
        ended.metered ?? (outcome.kind === "metered" ? meteringOf(outcome, staged) : undefined);
      if (ended.readyAt === null) await giveBack(deps, { ...ended, metered }, p.agreement);
      await storage
        .deleteAll(transferPrefix(t.id))
        .catch((err: unknown) => deps.log.error("transfer_objects_kept", { transfer: t.id, err }));
    }
    return current?.state ?? "revoked";
  }

  /** The guard or the source refused the body. */
  private async refused(
    agreement: Agreement,
    staged: Exclude<Staged, { ok: true }>,
  ): Promise<TransferState> {
    await this.discardStaging();
    if ("source" in staged) return this.end("failed", staged.source, agreement, "failed");
    const f = staged.failure;
    if (f.kind === "refused" && f.refusal.reason === "leak") {
      const state = await this.end("blocked", "leak_blocked", agreement, "blocked");
      if (state === "blocked") await this.auditLeak(f.refusal.marker, f.refusal.path);
      return state;
    }
    if (f.kind === "too_large") return this.end("failed", "payload_too_large", agreement, "failed");
    if (f.kind === "source_error")
      return this.end("failed", sourceErrorCode(this.t, f.cause), agreement, "failed");
    return this.end("failed", "uninspectable_content", agreement, "failed");
  }

  private async auditLeak(marker: number, path: string): Promise<void> {
    const t = this.t;
    const details = {
      agreement: t.agreement,
      dataset: t.dataset,
      direction: t.direction,
      transfer: t.id,
      rule: "core_marker",
      marker,
      path,
    };
    this.deps.log.warn("leak_blocked", details);
    await this.deps.audit
      .append({
        actor: "gateway",
        action: "transfer.leak_blocked",
        target: `agreement:${t.agreement}`,
        requestId: t.requestId,
        partners: [t.provider, t.consumer],
        details,
      })
      .catch((err: unknown) => this.deps.log.error("audit_unavailable", { message: String(err) }));
  }

  /** This run still holds the transfer. */
  private holds(t: TransferRecord): boolean {
    return t.state === "running" && t.attempt === this.attempt;
  }

  /**
   * Ends the transfer (if this run still holds it), deletes what it wrote,
   * and counts the refusal once: only the write that ended it counts.
   */
  private async end(
    state: "blocked" | "failed" | "revoked",
    code: string,
    agreement: Agreement | undefined,
    count: RefusalKind,
  ): Promise<TransferState> {
    const now = this.deps.clock();
    const ended = await this.store.update(this.t.id, (cur) =>
      this.holds(cur)
        ? { ...cur, state, code, leaseUntil: null, updatedAt: now.toISOString() }
        : undefined,
    );
    // Everything of the transfer goes, but only when this run ended it (not another run's work).
    if (ended?.changed === true)
      await this.deps.transferStorage
        .deleteAll(transferPrefix(this.t.id))
        .catch((err: unknown) =>
          this.deps.log.error("transfer_objects_kept", { transfer: this.t.id, err }),
        );
    if (ended?.changed === true && agreement !== undefined) {
      // An earlier run may have metered before it died: nothing was released.
      await giveBack(this.deps, ended.transfer, agreement);
      this.deps.telemetry.flow(agreement.id, this.t.direction, { kind: count });
      await this.deps.meter.countRefusal(agreement, count, now);
    }
    this.deps.log.warn("transfer_ended", { transfer: this.t.id, state, code });
    return ended?.transfer.state ?? state;
  }

  private async discardStaging(): Promise<void> {
    await this.deps.transferStorage
      .deleteAll(stagingKey(this.t.id, this.attempt))
      .catch((err: unknown) =>
        this.deps.log.warn("transfer_staging_left", { transfer: this.t.id, message: String(err) }),
      );
  }
}

/**
 * Takes back what an earlier run metered for a transfer that ended without
 * a release. The end stands whatever happens here; a reversal the store
 * refused is logged (reconcile shows it) rather than thrown.
 */
async function giveBack(
  deps: TransferWorkerDeps,
  t: TransferRecord,
  known?: Agreement,
): Promise<void> {
  if (t.metered === undefined) return;
  try {
    const agreement = known ?? (await deps.registry.getAgreement(t.agreement))?.value;
    if (agreement !== undefined && (await unmeterTransfer(deps, t, agreement)))
      deps.log.warn("transfer_metering_reversed", { transfer: t.id });
  } catch (err) {
    deps.log.error("transfer_metering_not_reversed", { transfer: t.id, err });
  }
}

/** A source that failed mid-stream: a stalled or cut-off backend, or the store of an upload. */
function sourceErrorCode(t: TransferRecord, cause: unknown): string {
  if (t.direction === "deliver") throw new StoreUnavailableError("read the uploaded body", cause);
  return (cause as { name?: string })?.name === "SourceStalled"
    ? "upstream_timeout"
    : "upstream_error";
}
