/**
 * Compiled guard plans, one per (agreement version, dataset version). Both
 * versions are in the key, so an amendment or a dataset change takes effect on
 * the next request; nothing about status is cached here.
 */
import { LRUCache } from "lru-cache";
import { compileGuardPlan, type GuardPlan } from "../../policies/guard/index.ts";
import { compileMarkers, type MarkerMatcher } from "../../policies/markers/index.ts";
import type { Agreement, Dataset } from "../../policies/model.ts";
import type { PseudonymKeys } from "../auth/pseudonyms.ts";

export class GuardPlans {
  private readonly plans = new LRUCache<string, GuardPlan>({ max: 2000 });
  /** A dataset without markers is remembered too, as `matcher: null`. */
  private readonly markers = new LRUCache<string, { matcher: MarkerMatcher | null }>({
    max: 2000,
  });

  constructor(private readonly pseudonyms: PseudonymKeys) {}

  /** The last plan answered, by what its key is made of: a flow asks for the same one every time. */
  private last: { aid: string; av: number; did: string; dv: number; plan: GuardPlan } | undefined;

  /** The plan, if it is compiled already (without waiting: no promise). */
  compiled(agreement: Agreement, dataset: Dataset): GuardPlan | undefined {
    const last = this.last;
    if (
      last !== undefined &&
      last.aid === agreement.id &&
      last.av === agreement.version &&
      last.did === dataset.id &&
      last.dv === dataset.version
    )
      return last.plan;
    const plan = this.plans.get(planId(agreement, dataset));
    if (plan !== undefined) this.remember(agreement, dataset, plan);
    return plan;
  }

  async planFor(agreement: Agreement, dataset: Dataset): Promise<GuardPlan> {
    const known = this.compiled(agreement, dataset);
    if (known !== undefined) return known;
    const plan = await this.compile(planId(agreement, dataset), agreement, dataset);
    this.remember(agreement, dataset, plan);
    return plan;
  }

  private remember(agreement: Agreement, dataset: Dataset, plan: GuardPlan): void {
    this.last = {
      aid: agreement.id,
      av: agreement.version,
      did: dataset.id,
      dv: dataset.version,
      plan,
    };
  }

  private async compile(id: string, agreement: Agreement, dataset: Dataset): Promise<GuardPlan> {
    const plan = compileGuardPlan({
      classes: dataset.fields,
      granted: agreement.fields,
      pseudonymize: [...(dataset.pseudonymize ?? []), ...(agreement.pseudonymize ?? [])],
      recordsAt: dataset.recordsAt,
      markers: this.markersFor(dataset),
      onMarker: dataset.onMarker,
      pseudonymKey: await this.pseudonyms.forAgreement(agreement.id),
    });
    this.plans.set(id, plan);
    return plan;
  }

  markersFor(dataset: Dataset): MarkerMatcher | null {
    const id = `${dataset.id}@${dataset.version}`;
    const cached = this.markers.get(id);
    if (cached !== undefined) return cached.matcher;
    let matcher: MarkerMatcher | null = null;
    if (dataset.coreMarkers.length > 0) {
      const compiled = compileMarkers(dataset.coreMarkers);
      // Patterns are validated when the dataset is stored; one that no longer
      // compiles must not let data through unchecked.
      if (!compiled.ok) throw new Error(`dataset ${dataset.id} holds markers that do not compile`);
      matcher = compiled.matcher;
    }
    this.markers.set(id, { matcher });
    return matcher;
  }
}

/** Both versions are in the key: an amendment or a dataset change takes effect on the next request. */
const planId = (agreement: Agreement, dataset: Dataset): string =>
  `${agreement.id}@${agreement.version}|${dataset.id}@${dataset.version}`;
