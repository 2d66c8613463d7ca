/**
 * Where a partner backend may be, checked when it is registered (and again at
 * every call by the transport, against the address it connects to): https,
 * and every address the name resolves to public, unless the gateway runs
 * locally. A name that resolves to nothing is refused too: there is nothing
 * to check it against.
 */
import { RuleViolationError } from "../errors.ts";
import { addressProblem, baseUrlProblem, ipLiteral } from "../exchange/address.ts";
import type { Gateway } from "../gateway.ts";

const refuse = (why: string) =>
  new RuleViolationError("backend_not_allowed", `baseUrl ${why}`, [
    { code: "backend_not_allowed", message: why, field: "baseUrl" },
  ]);

export async function checkBackend(gw: Gateway, baseUrl: string): Promise<void> {
  const problem = baseUrlProblem(baseUrl, gw.addressPolicy);
  if (problem !== null) throw refuse(problem);
  const host = new URL(baseUrl).hostname;
  if (ipLiteral(host) !== null || gw.settings.localBackends) return;
  let addresses: string[];
  try {
    addresses = await gw.resolveHost(host);
  } catch {
    throw refuse(`names a host that does not resolve (${host})`);
  }
  if (addresses.length === 0) throw refuse(`names a host without addresses (${host})`);
  for (const a of addresses) {
    const p = addressProblem(a, gw.addressPolicy);
    if (p !== null) throw refuse(`resolves to ${p}`);
  }
}
