/**
 * One exchange, end to end: decide on fresh state, call the backend with the
 * gateway's own token, guard what comes back (or what is delivered), meter it
 * exactly once while re-checking every status atomically, and only then
 * release. Any failure on the way releases nothing.
 */
import { createHash } from "node:crypto";
import { type DenialReason, decide, type ExchangeState } from "../../policies/decide.ts";
import {
  type GuardResult,
  guardPayload,
  type MediaKind,
  mediaKindOf,
} from "../../policies/guard/index.ts";
import type { Action, Agreement, Dataset, Partner } from "../../policies/model.ts";
import type { VerifiedProof } from "../auth/dpop.ts";
import type { AccessClaims } from "../auth/tokens.ts";
import { GatewayError, StoreUnavailableError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { replayedProof } from "../http/sender.ts";
import type { MeteringOutcome, MeteringReceipt, MeteringRequest } from "../store/meter.ts";
import { BackendTokens } from "./backend-token.ts";
import { decodeBody } from "./content.ts";
import {
  denialError,
  meteringUnavailable,
  quotaExceeded,
  uninspectable,
  upstreamError,
  upstreamTimeout,
} from "./denials.ts";
import { upstreamUrl } from "./path.ts";
import { GuardPlans } from "./plans.ts";
import type { UpstreamResponse } from "./upstream.ts";

export interface ExchangeInput {
  readonly action: Action;
  readonly agreementId: string;
  readonly segments: readonly string[];
  readonly rawQuery: string;
  readonly claims: AccessClaims;
  readonly purpose: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly requestId: string;
  readonly accept: string | undefined;
  /**
   * The request's DPoP proof, verified, its jti not yet claimed: a read
   * claims it beside its state read (before the provider is called), a
   * deliver in its metering transaction (before the consumer is called).
   */
  readonly proof?: VerifiedProof | undefined;
  /** The deliver body as received. */
  readonly body?: {
    bytes: Uint8Array;
    contentType: string | undefined;
    contentEncoding: string | undefined;
  };
}

export interface ExchangeOutput {
  readonly body: string;
  readonly contentType: string;
  readonly records: number;
}

interface Permitted {
  readonly agreement: Agreement;
  readonly dataset: Dataset;
  readonly provider: Partner;
  readonly consumer: Partner;
  /** The registry copy the state was read from: metering re-checks that copy. */
  readonly replica: number | undefined;
  /** What was asked: an Idempotency-Key reused for another request is another exchange. */
  readonly fingerprint: string;
}

/**
 * What an exchange uses of the gateway: the registry, the meter and the audit
 * trail, the transport to backends, keys, settings, log and clock. Never the
 * raw store, the credentials or the outbox.
 */
export type ExchangeDeps = Pick<
  Gateway,
  | "registry"
  | "meter"
  | "audit"
  | "transport"
  | "keys"
  | "pseudonyms"
  | "settings"
  | "log"
  | "clock"
  | "telemetry"
  | "dpop"
>;

const CONTENT_TYPES: Readonly<Record<MediaKind, string>> = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
};
const DEFAULT_ACCEPT = "application/json, application/x-ndjson;q=0.9, text/csv;q=0.8";
const ACCEPTABLE =
  /^(application\/(json|x-ndjson|[a-z0-9.-]+\+json)|text\/csv)(;\s*q=[01](\.\d{1,3})?)?$/i;

export class ExchangeService {
  private readonly plans: GuardPlans;
  private readonly backendTokens: BackendTokens;
  /** Exchanges whose DPoP proof is claimed already (by its own write or with the metering). */
  private readonly claimed = new WeakSet<ExchangeInput>();

  constructor(private readonly gw: ExchangeDeps) {
    this.plans = new GuardPlans(gw.pseudonyms);
    this.backendTokens = new BackendTokens(gw.keys.backendSigner, gw.settings.issuer);
  }

  async run(input: ExchangeInput): Promise<ExchangeOutput> {
    const permitted = await this.permit(input);
    return input.action === "read" ? this.read(input, permitted) : this.deliver(input, permitted);
  }

  private decideNow(input: ExchangeInput, state: ExchangeState) {
    const { claims, agreementId, action, purpose } = input;
    return decide(
      { caller: claims.sub, scopes: claims.scopes, agreementId, action, purpose },
      state,
      this.gw.clock(),
    );
  }

  /**
   * Reads the state in one consistent round trip and decides; a deny is
   * counted on the flow. A read's DPoP proof is claimed at the same time
   * (two requests in flight, no added wait), so a replayed proof is refused
   * before the provider is called and before anything is counted.
   */
  private async permit(input: ExchangeInput): Promise<Permitted> {
    const [loaded, claimed] = await Promise.allSettled([
      this.loadState(input),
      this.claimProofBeforeRead(input),
    ]);
    if (claimed.status === "rejected") throw claimed.reason;
    if (loaded.status === "rejected") throw loaded.reason;
    const state = loaded.value;
    const decision = this.decideNow(input, state);
    if (decision.decision === "deny") {
      if (state.agreement !== undefined) await this.countRefusal(input, state.agreement, "denied");
      throw denialError(decision.reasons);
    }
    const { agreement, dataset, provider, consumer } = state;
    if (!agreement || !dataset || !provider || !consumer)
      throw new Error("a permit without its state");
    return {
      agreement,
      dataset,
      provider,
      consumer,
      replica: state.replica,
      fingerprint: fingerprintOf(input),
    };
  }

  private async claimProofBeforeRead(input: ExchangeInput): Promise<void> {
    if (input.proof === undefined || input.action !== "read") return;
    await this.claimProofAlone(input, input.proof);
  }

  /**
   * Counts a refusal on the flow, once the request's proof is claimed: a
   * deliver refused before its metering transaction (which would have
   * claimed it) claims it first, so a replayed proof is refused as such and
   * counts nothing.
   */
  private async countRefusal(
    input: ExchangeInput,
    agreement: Agreement,
    kind: "denied" | "blocked",
  ) {
    if (input.proof !== undefined && !this.claimed.has(input)) {
      await this.claimProofAlone(input, input.proof);
    }
    this.gw.telemetry.flow(agreement.id, "exchange", { kind });
    await this.gw.meter.countRefusal(agreement, kind, this.gw.clock());
  }

  /** The proof's own conditional write; a store fault refuses the exchange as metering does. */
  private async claimProofAlone(input: ExchangeInput, proof: VerifiedProof): Promise<void> {
    let claimed: boolean;
    try {
      claimed = await this.gw.dpop.replays.claim(proof, this.gw.clock());
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.gw.log.error("metering_unavailable", {
        requestId: input.requestId,
        message: err.message,
        cause: String(err.cause),
      });
      throw meteringUnavailable(err);
    }
    if (!claimed) throw replayedProof();
    this.claimed.add(input);
  }

  private async loadState(input: ExchangeInput): Promise<ExchangeState & { replica?: number }> {
    try {
      return await this.gw.registry.loadExchangeState(
        input.agreementId,
        input.claims.bind[input.agreementId],
      );
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        this.gw.log.error("metering_unavailable", {
          requestId: input.requestId,
          message: err.message,
          cause: String(err.cause),
        });
        throw meteringUnavailable(err);
      }
      throw err;
    }
  }

  private async read(input: ExchangeInput, p: Permitted): Promise<ExchangeOutput> {
    const url = upstreamUrl(p.provider.baseUrl, p.dataset.path, input.segments, input.rawQuery);
    const token = await this.backendToken(input, p, p.provider, p.consumer);
    const accept =
      input.accept !== undefined && ACCEPTABLE.test(input.accept) ? input.accept : DEFAULT_ACCEPT;
    const res = await this.gw.transport({
      method: "GET",
      url,
      headers: {
        ...this.commonHeaders(input, token),
        Accept: accept,
        "Accept-Encoding": "gzip, deflate, br",
      },
      timeoutMs: this.gw.settings.upstreamTimeoutMs,
      maxBytes: this.gw.settings.maxBodyBytes,
    });
    const ok = this.checkUpstream(res, "provider");
    const kind = mediaKindOf(ok.contentType);
    if (kind === null)
      throw uninspectable(`the provider answered ${ok.contentType ?? "without a content type"}`);
    const decoded = decodeBody(ok.body, ok.contentEncoding, this.gw.settings.maxBodyBytes);
    if (!decoded.ok)
      throw uninspectable(`the provider's answer could not be decoded (${decoded.detail})`);
    const guarded = await this.guard(input, p, decoded.text, kind, "read");
    const request = this.meteringRequest(input, p, guarded);
    this.released(request, await this.meterOrRefuse(input, p, request));
    return { body: guarded.body, contentType: CONTENT_TYPES[kind], records: guarded.records };
  }

  private async deliver(input: ExchangeInput, p: Permitted): Promise<ExchangeOutput> {
    const body = input.body;
    const kind = mediaKindOf(body?.contentType);
    if (body === undefined || kind === null) {
      throw new GatewayError("unsupported_media_type", "deliver JSON, NDJSON or CSV in UTF-8");
    }
    const decoded = decodeBody(body.bytes, body.contentEncoding, this.gw.settings.maxBodyBytes);
    if (!decoded.ok) {
      if (decoded.detail === "too_large") {
        throw new GatewayError("payload_too_large", "the decoded body is over the size cap");
      }
      throw new GatewayError(
        "unsupported_media_type",
        `the body could not be decoded (${decoded.detail})`,
      );
    }
    const guarded = await this.guard(input, p, decoded.text, kind, "deliver");
    // Everything that can fail before the send is done before metering, so a
    // metered deliver is either sent or reversed.
    const url = upstreamUrl(p.consumer.baseUrl, p.dataset.path, input.segments, "");
    const token = await this.backendToken(input, p, p.consumer, p.provider);
    const request = this.meteringRequest(input, p, guarded);
    const metered = await this.meterOrRefuse(input, p, request);
    let res: UpstreamResponse;
    try {
      res = await this.gw.transport({
        method: "POST",
        url,
        headers: {
          ...this.commonHeaders(input, token),
          "Content-Type": CONTENT_TYPES[kind],
          ...(input.idempotencyKey === undefined
            ? {}
            : { "Idempotency-Key": input.idempotencyKey }),
        },
        body: Buffer.from(guarded.body),
        timeoutMs: this.gw.settings.upstreamTimeoutMs,
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      if (metered.kind === "metered") await this.reverse(request, metered);
      throw err;
    }
    const accepted = res.ok && res.status >= 200 && res.status < 300;
    if (!accepted) {
      if (metered.kind === "metered") await this.reverse(request, metered);
      this.checkUpstream(res, "consumer");
      throw upstreamError(`the consumer's backend answered ${res.ok ? res.status : "nothing"}`);
    }
    this.released(request, metered);
    return {
      body: JSON.stringify({ delivered: true, records: guarded.records }),
      contentType: CONTENT_TYPES.json,
      records: guarded.records,
    };
  }

  private commonHeaders(input: ExchangeInput, token: string): Record<string, string> {
    return {
      Authorization: `Bearer ${token}`,
      "User-Agent": "data-sharing-gateway/1",
      "X-Request-Id": input.requestId,
      ...(input.purpose === undefined ? {} : { "Data-Purpose": input.purpose }),
    };
  }

  private backendToken(
    input: ExchangeInput,
    p: Permitted,
    audience: Partner,
    party: Partner,
  ): Promise<string> {
    return this.backendTokens.tokenFor(
      {
        aud: audience.id,
        agreement: p.agreement.id,
        party: party.id,
        purpose: input.purpose ?? null,
        action: input.action,
      },
      this.gw.clock(),
    );
  }

  private checkUpstream(
    res: UpstreamResponse,
    who: string,
  ): Extract<UpstreamResponse, { ok: true }> {
    if (!res.ok) {
      if (res.kind === "timeout")
        throw upstreamTimeout(`the ${who}'s backend did not answer in time`);
      if (res.kind === "too_large") throw uninspectable(`the ${who}'s answer is over the size cap`);
      this.gw.log.warn("upstream_error", { who, kind: res.kind, message: res.message });
      throw upstreamError(`the ${who}'s backend could not be reached`);
    }
    if (res.status < 200 || res.status > 299) {
      throw upstreamError(`the ${who}'s backend answered ${res.status}`);
    }
    return res;
  }

  private async guard(
    input: ExchangeInput,
    p: Permitted,
    text: string,
    kind: MediaKind,
    direction: Action,
  ): Promise<Extract<GuardResult, { ok: true }>> {
    const result = guardPayload(await this.plans.planFor(p.agreement, p.dataset), text, kind);
    if (result.ok) return result;
    if (result.reason === "uninspectable") {
      if (direction === "deliver") throw new GatewayError("unsupported_media_type", result.message);
      throw uninspectable(`the provider's answer cannot be inspected: ${result.message}`);
    }
    await this.recordLeak(input, p, direction, result.marker, result.path);
    const where = direction === "read" ? "the provider's answer" : "the delivered body";
    throw new GatewayError("leak_blocked", `${where} holds data that must not leave`, {
      status: direction === "read" ? 502 : 422,
    });
  }

  private async recordLeak(
    input: ExchangeInput,
    p: Permitted,
    direction: Action,
    marker: number,
    path: string,
  ) {
    const details = {
      dataset: p.dataset.id,
      agreement: p.agreement.id,
      direction,
      rule: "core_marker",
      marker,
      pattern: p.dataset.coreMarkers[marker] ?? null,
      path,
    };
    this.gw.log.warn("leak_blocked", { requestId: input.requestId, ...details });
    await this.countRefusal(input, p.agreement, "blocked");
    await this.gw.audit
      .append({
        actor: "gateway",
        action: "exchange.leak_blocked",
        target: `agreement:${p.agreement.id}`,
        requestId: input.requestId,
        partners: [p.agreement.provider, p.agreement.consumer],
        details,
      })
      .catch((err: unknown) => this.gw.log.error("audit_unavailable", { message: String(err) }));
  }

  /** What the meter counts for this exchange: built once, for the metering and any reversal. */
  private meteringRequest(
    input: ExchangeInput,
    p: Permitted,
    released: { readonly records: number; readonly body: string },
  ): MeteringRequest {
    const now = this.gw.clock();
    return {
      agreement: p.agreement,
      action: input.action,
      requestKey: input.requestId,
      idempotencyKey: input.idempotencyKey,
      fingerprint: p.fingerprint,
      records: released.records,
      bytes: Buffer.byteLength(released.body),
      now,
      replica: p.replica,
      // A deliver's proof is claimed with the metering: one more item, no more round trips.
      proofClaim:
        input.action === "deliver" && input.proof !== undefined
          ? this.gw.dpop.replays.claimPut(input.proof, now)
          : undefined,
    };
  }

  /** An exchange metered now (a repeat served again was counted the first time). */
  private released(request: MeteringRequest, outcome: MeteringOutcome): void {
    if (outcome.kind !== "metered") return;
    this.gw.telemetry.flow(request.agreement.id, request.action, {
      kind: "released",
      records: request.records,
      bytes: request.bytes,
      value: outcome.value,
      currency: request.agreement.price.currency,
    });
  }

  /** Meters the exchange; refuses (releasing nothing) if it cannot be metered or may no longer happen. */
  private async meterOrRefuse(input: ExchangeInput, p: Permitted, request: MeteringRequest) {
    let outcome: MeteringOutcome;
    try {
      outcome = await this.gw.meter.meter(request);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      this.gw.log.error("metering_unavailable", {
        requestId: input.requestId,
        message: String(err),
        cause: String(cause),
      });
      throw meteringUnavailable(err);
    }
    if (outcome.kind === "proof_replayed") throw replayedProof();
    if (outcome.kind === "metered") this.claimed.add(input);
    if (outcome.kind === "duplicate" && input.proof !== undefined && input.action === "deliver") {
      // The transaction that found the duplicate wrote nothing, the proof's claim neither.
      await this.claimProofAlone(input, input.proof);
    }
    if (outcome.kind === "quota_exceeded") {
      await this.countRefusal(input, p.agreement, "denied");
      throw quotaExceeded(outcome.counter, outcome.retryAfter);
    }
    if (outcome.kind === "status_changed" || outcome.kind === "duplicate") {
      // A duplicate is served again only if the flow may still run right now.
      const state = await this.loadState(input);
      const decision = this.decideNow(input, state);
      if (decision.decision === "deny") {
        await this.countRefusal(input, p.agreement, "denied");
        throw denialError(decision.reasons);
      }
      if (outcome.kind === "status_changed") {
        await this.countRefusal(input, p.agreement, "denied");
        const reason: DenialReason = {
          code: "agreement_inactive",
          message: "the flow changed while it ran",
        };
        throw denialError([reason]);
      }
    }
    return outcome;
  }

  /** Takes back a metered deliver the consumer did not accept; a failure is logged, never thrown. */
  private async reverse(request: MeteringRequest, receipt: MeteringReceipt): Promise<void> {
    const done = await this.gw.meter.reverse(request, receipt).catch(() => false);
    if (!done)
      this.gw.log.error("metering_reversal_failed", {
        requestId: request.requestKey,
        agreement: request.agreement.id,
      });
  }
}

/** What an exchange asked for: action, subpath, query and, for a deliver, the body. */
function fingerprintOf(input: ExchangeInput): string {
  const h = createHash("sha256").update(
    `${input.action}\n${input.segments.join("/")}\n${input.rawQuery}\n`,
  );
  if (input.body !== undefined) h.update(input.body.bytes);
  return h.digest("base64url");
}
