/**
 * The soak's load: `concurrency` callers, each picking an agreement at random
 * and running a read (most), a deliver, a read with an Idempotency-Key and
 * its retries (sequential or concurrent), or a HEAD (which must be refused
 * 405 and never reach a provider), with tokens from the real token endpoint
 * refreshed now and then (and at once when a rotation ended one). Every
 * request is logged with its start, end, status, code and a hash of a 200's
 * body; nothing stops on an error.
 */
import type http from "node:http";
import { errorCode, type HttpAnswer, httpRequest, keepAliveAgent, tokenRequest } from "./http.ts";
import { type ExchangeLog, Kind } from "./soak-log.ts";
import { PURPOSE, type SoakAgreement, type SoakWorld } from "./soak-world.ts";

export interface DriverOptions {
  readonly base: string;
  readonly concurrency: number;
  readonly tokenRefreshMs: number;
  readonly random: () => number;
}

interface CachedToken {
  token: string;
  at: number;
  refreshing: boolean;
  /** The secret generation it was issued under. */
  generation: number;
}

/** FNV-1a, 32 bits: enough to tell a replayed body from a fresh one. */
function hashOf(bytes: Buffer): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

export class SoakDriver {
  private readonly agent: http.Agent;
  private readonly tokens = new Map<string, CachedToken>();
  private groups = 0;
  /** performance.now() after which no request starts. */
  private until = 0;

  constructor(
    private readonly world: SoakWorld,
    private readonly log: ExchangeLog,
    private readonly options: DriverOptions,
  ) {
    this.agent = keepAliveAgent(options.concurrency * 2 + 4);
  }

  /** Tokens for both parties of every agreement, before the load starts. */
  async prime(): Promise<void> {
    for (const a of this.world.agreements) {
      for (const p of [a.consumer, a.provider]) {
        const ok = await this.fetchToken(p, a);
        if (!ok) throw new Error(`no token for ${this.partnerId(p)} on ${a.id}`);
      }
    }
  }

  async run(until: number): Promise<void> {
    this.until = until;
    await Promise.all(Array.from({ length: this.options.concurrency }, () => this.caller()));
  }

  close(): void {
    this.agent.destroy();
  }

  private partnerId(i: number): string {
    return this.world.partners[i]?.id ?? "?";
  }

  private async caller(): Promise<void> {
    const r = this.options.random;
    while (performance.now() < this.until && !this.log.full) {
      const a = this.world.agreements[Math.floor(r() * this.world.agreements.length)];
      if (a === undefined) return;
      const x = r();
      if (x < 0.12) {
        await this.exchange(a, "deliver", -1, undefined);
      } else if (x < 0.15) {
        await this.exchange(a, "head", -1, undefined);
      } else if (x < 0.27) {
        const group = this.groups++;
        const key = `soak-${this.world.runId}-${group}`;
        if (r() < 0.5) {
          // A retry now, and one later (a mid-flight amendment may come between).
          await this.exchange(a, "read", group, key);
          await this.exchange(a, "read", group, key);
          await new Promise((done) => setTimeout(done, r() * 400));
          await this.exchange(a, "read", group, key);
        } else {
          // Both in flight together: one is metered, the other served as a duplicate.
          await Promise.all([
            this.exchange(a, "read", group, key),
            this.exchange(a, "read", group, key),
          ]);
        }
      } else {
        await this.exchange(a, "read", -1, undefined);
      }
    }
  }

  /** Logs one exchange (group: its Idempotency-Key's number, or -1). */
  private async exchange(
    a: SoakAgreement,
    action: "read" | "deliver" | "head",
    group: number,
    key: string | undefined,
  ): Promise<void> {
    const caller = action === "deliver" ? a.provider : a.consumer;
    const cached = await this.tokenFor(caller, a);
    if (cached === undefined) return;
    const { token, generation } = cached;
    const start = performance.now();
    const kind = action === "read" ? Kind.read : action === "head" ? Kind.head : Kind.deliver;
    const i = this.log.open(kind, a.index, caller, group, start);
    if (i < 0) return;
    let answer: HttpAnswer;
    try {
      answer = await httpRequest(this.agent, new URL(`/v1/exchange/${a.id}`, this.options.base), {
        method: action === "read" ? "GET" : action === "head" ? "HEAD" : "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Data-Purpose": PURPOSE,
          Accept: "application/json",
          ...(key === undefined ? {} : { "Idempotency-Key": key }),
          ...(action === "deliver" ? { "Content-Type": "application/json" } : {}),
        },
        ...(action === "deliver" ? { body: this.world.deliverBody } : {}),
      });
    } catch (err) {
      this.log.close(i, performance.now(), 0, `transport: ${(err as Error).message}`, 0);
      return;
    }
    const code = errorCode(answer);
    if (answer.status === 401 && code === "invalid_token") {
      // Its secret was rotated: the token ended with it. Fetch a new one next time.
      const entry = this.tokens.get(`${caller}:${a.index}`);
      if (entry !== undefined && entry.token === token) entry.at = Number.NEGATIVE_INFINITY;
      this.log.close(i, performance.now(), answer.status, code, generation);
      return;
    }
    const records = answer.status === 200 ? Number(answer.headers["x-records"] ?? "-1") : 0;
    const hash = answer.status === 200 ? hashOf(answer.body) : 0;
    this.log.close(i, performance.now(), answer.status, code, records, hash);
  }

  private async tokenFor(partner: number, a: SoakAgreement): Promise<CachedToken | undefined> {
    const cached = this.tokens.get(`${partner}:${a.index}`);
    if (
      cached !== undefined &&
      !cached.refreshing &&
      performance.now() - cached.at > this.options.tokenRefreshMs
    ) {
      cached.refreshing = true;
      await this.fetchToken(partner, a).finally(() => {
        cached.refreshing = false;
      });
    }
    return this.tokens.get(`${partner}:${a.index}`);
  }

  /** A token request at the real endpoint, logged; the cache keeps the old token on a refusal. */
  private async fetchToken(partner: number, a: SoakAgreement): Promise<boolean> {
    const p = this.world.partners[partner];
    if (p === undefined) return false;
    const generation = p.generation;
    const secret = p.secret;
    const start = performance.now();
    const i = this.log.open(Kind.token, a.index, partner, -1, start);
    let answer: HttpAnswer;
    try {
      answer = await tokenRequest(this.agent, this.options.base, p.id, secret, `agreement:${a.id}`);
    } catch (err) {
      if (i >= 0)
        this.log.close(i, performance.now(), 0, `transport: ${(err as Error).message}`, generation);
      return false;
    }
    if (i >= 0) this.log.close(i, performance.now(), answer.status, errorCode(answer), generation);
    if (answer.status !== 200) {
      const cached = this.tokens.get(`${partner}:${a.index}`);
      if (cached !== undefined) cached.at = performance.now();
      return false;
    }
    const token = (JSON.parse(answer.body.toString("utf8")) as { access_token: string })
      .access_token;
    this.tokens.set(`${partner}:${a.index}`, {
      token,
      at: performance.now(),
      refreshing: false,
      generation,
    });
    return true;
  }
}
