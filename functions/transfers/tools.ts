/**
 * What transfer runs share across runs of one gateway: compiled guard plans
 * and the gateway's tokens for backends (both caches, as the exchange keeps them).
 */
import { BackendTokens } from "../exchange/backend-token.ts";
import { GuardPlans } from "../exchange/plans.ts";
import type { Gateway } from "../gateway.ts";

type ToolDeps = Pick<Gateway, "pseudonyms" | "keys" | "settings">;

const made = new WeakMap<ToolDeps, TransferTools>();

export class TransferTools {
  private constructor(
    readonly plans: GuardPlans,
    readonly backendTokens: BackendTokens,
  ) {}

  static of(deps: ToolDeps): TransferTools {
    let tools = made.get(deps);
    if (tools === undefined) {
      tools = new TransferTools(
        new GuardPlans(deps.pseudonyms),
        new BackendTokens(deps.keys.backendSigner, deps.settings.issuer),
      );
      made.set(deps, tools);
    }
    return tools;
  }
}
