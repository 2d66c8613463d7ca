/**
 * The soak's chaos: a few loops of episodes, each on one partner or
 * agreement nobody else is changing: suspend → resume, revoke → reinstate,
 * suspend → revoke → reinstate (partners), suspend → resume (agreements),
 * amendments of an agreement's fields while exchanges are in flight (its
 * reads with an Idempotency-Key are then decided anew), and credential
 * rotations, after which the old secret is tried at once (it must be
 * refused). Every call is logged with the time it was sent and the time its
 * answer arrived.
 */
import type http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { errorCode, type HttpAnswer, type JsonApi, tokenRequest } from "./http.ts";
import type { Direction, RotationCheck, StatusChange } from "./soak-log.ts";
import type { SoakPartner, SoakWorld } from "./soak-world.ts";

export interface ChaosOptions {
  readonly base: string;
  readonly agent: http.Agent;
  readonly operator: JsonApi;
  readonly loops: number;
  readonly random: () => number;
  /** Entities ("partner:<id>", "agreement:<id>") the chaos leaves alone. */
  readonly exclude?: ReadonlySet<string>;
}

export class Chaos {
  readonly changes: StatusChange[] = [];
  readonly rotations: RotationCheck[] = [];
  /** Transport failures of chaos calls (no answer). */
  readonly failures: string[] = [];
  private readonly busy = new Set<string>();
  /** Agreements whose fields are narrowed now (without `notes`). */
  private readonly narrowed = new Set<string>();
  /** performance.now() after which no episode starts. */
  private until = 0;

  constructor(
    private readonly world: SoakWorld,
    private readonly options: ChaosOptions,
  ) {}

  async run(until: number): Promise<void> {
    this.until = until;
    await Promise.all(Array.from({ length: this.options.loops }, () => this.loop()));
  }

  private async loop(): Promise<void> {
    const r = this.options.random;
    while (performance.now() < this.until) {
      await sleep(50 + r() * 250);
      const x = r();
      try {
        if (x < 0.4) await this.partnerEpisode();
        else if (x < 0.7) await this.agreementEpisode();
        else if (x < 0.85) await this.amendment();
        else await this.rotation();
      } catch (err) {
        this.failures.push(String(err));
      }
    }
  }

  private pick<T extends { id: string }>(items: readonly T[], kind: string): T | undefined {
    for (let tries = 0; tries < 5; tries++) {
      const item = items[Math.floor(this.options.random() * items.length)];
      const key = `${kind}:${item?.id}`;
      const excluded = this.options.exclude?.has(
        `${kind === "rotate" ? "partner" : kind}:${item?.id}`,
      );
      if (item !== undefined && !this.busy.has(key) && !excluded) return item;
    }
    return undefined;
  }

  private hold(): Promise<void> {
    return sleep(200 + this.options.random() * 1300);
  }

  private async partnerEpisode(): Promise<void> {
    const p = this.pick(this.world.partners, "partner");
    if (p === undefined) return;
    const entity = `partner:${p.id}`;
    this.busy.add(entity);
    try {
      const mode = this.options.random();
      if (mode < 0.45) {
        await this.change(entity, `/admin/partners/${p.id}/suspend`, "suspend", "down");
        await this.hold();
        await this.change(entity, `/admin/partners/${p.id}/resume`, "resume", "up");
      } else if (mode < 0.85) {
        await this.change(entity, `/admin/partners/${p.id}/revoke`, "revoke", "down");
        await this.hold();
        await this.change(entity, `/admin/partners/${p.id}/reinstate`, "reinstate", "up");
      } else {
        await this.change(entity, `/admin/partners/${p.id}/suspend`, "suspend", "down");
        await this.hold();
        await this.change(entity, `/admin/partners/${p.id}/revoke`, "revoke", "down");
        await this.hold();
        await this.change(entity, `/admin/partners/${p.id}/reinstate`, "reinstate", "up");
      }
    } finally {
      this.busy.delete(entity);
    }
  }

  private async agreementEpisode(): Promise<void> {
    const a = this.pick(this.world.agreements, "agreement");
    if (a === undefined) return;
    const entity = `agreement:${a.id}`;
    this.busy.add(entity);
    try {
      await this.change(entity, `/admin/agreements/${a.id}/suspend`, "suspend", "down");
      await this.hold();
      await this.change(entity, `/admin/agreements/${a.id}/resume`, "resume", "up");
    } finally {
      this.busy.delete(entity);
    }
  }

  /** Narrows or widens an agreement's fields (toggles `notes`): a new version of its terms. */
  private async amendment(): Promise<void> {
    const a = this.pick(this.world.agreements, "agreement");
    if (a === undefined) return;
    const entity = `agreement:${a.id}`;
    this.busy.add(entity);
    try {
      const narrow = !this.narrowed.has(a.id);
      const fields = ["vin", "mileage", "speed.avg", "driver.name", ...(narrow ? [] : ["notes"])];
      const sentAt = performance.now();
      const answer = await this.options.operator
        .call("PATCH", `/admin/agreements/${a.id}`, { fields, reason: "soak amend" })
        .catch((err: unknown) => {
          this.failures.push(`amend ${entity}: ${(err as Error).message}`);
          return undefined;
        });
      if (answer?.status === 200) {
        if (narrow) this.narrowed.add(a.id);
        else this.narrowed.delete(a.id);
      }
      this.changes.push({
        entity,
        op: narrow ? "narrow" : "widen",
        direction: "amend",
        sentAt,
        answeredAt: answer?.answeredAt ?? performance.now(),
        status: answer?.status ?? 0,
        code: answer === undefined ? "transport" : errorCode(answer),
        to: null,
      });
    } finally {
      this.busy.delete(entity);
    }
  }

  private async rotation(): Promise<void> {
    const p = this.pick(this.world.partners, "rotate") as SoakPartner | undefined;
    if (p === undefined) return;
    const key = `rotate:${p.id}`;
    this.busy.add(key);
    try {
      const old = p.secret;
      const answer = await this.change(
        `partner:${p.id}`,
        `/admin/partners/${p.id}/credentials`,
        "rotate",
        "rotate",
      );
      if (answer?.status !== 200) return;
      const { clientSecret } = JSON.parse(answer.body.toString("utf8")) as {
        clientSecret: string;
      };
      p.secret = clientSecret;
      p.generation++;
      const agreement = this.world.agreements.find(
        (a) => a.consumer === p.index || a.provider === p.index,
      );
      const scope = agreement === undefined ? "" : `agreement:${agreement.id}`;
      const check = await tokenRequest(this.options.agent, this.options.base, p.id, old, scope);
      this.rotations.push({
        partner: p.id,
        at: performance.now(),
        status: check.status,
        code: errorCode(check),
      });
    } finally {
      this.busy.delete(key);
    }
  }

  private async change(
    entity: string,
    path: string,
    op: string,
    direction: Direction,
  ): Promise<HttpAnswer | undefined> {
    const sentAt = performance.now();
    let answer: HttpAnswer;
    try {
      answer = await this.options.operator.call("POST", path, { reason: `soak ${op}` });
    } catch (err) {
      this.failures.push(`${op} ${entity}: ${(err as Error).message}`);
      this.changes.push({
        entity,
        op,
        direction,
        sentAt,
        answeredAt: performance.now(),
        status: 0,
        code: "transport",
        to: null,
      });
      return undefined;
    }
    let to: string | null = null;
    if (answer.status === 200 && direction !== "rotate") {
      to = (JSON.parse(answer.body.toString("utf8")) as { status?: string }).status ?? null;
    }
    this.changes.push({
      entity,
      op,
      direction,
      sentAt,
      answeredAt: answer.answeredAt,
      status: answer.status,
      code: errorCode(answer),
      to,
    });
    return answer;
  }
}
