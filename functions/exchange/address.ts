/**
 * Which network addresses a partner backend may live at. Deployed, only
 * public unicast addresses; locally, loopback too. IP literals reach here in
 * canonical form: the URL parser turns `127.1`, `0x7f.0.0.1` or `2130706433`
 * into `127.0.0.1` and `[::ffff:127.0.0.1]` into `[::ffff:7f00:1]`.
 */
import { BlockList, isIP } from "node:net";

const NOT_PUBLIC_V4 = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const;

const NOT_PUBLIC_V6 = [
  ["::", 128],
  ["::ffff:0:0", 96], // IPv4-mapped: never, whatever the IPv4 part
  ["::", 96], // IPv4-compatible (deprecated)
  ["64:ff9b::", 96], // NAT64
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001::", 23], // IETF protocol assignments (Teredo, ORCHID, ...)
  ["2001:db8::", 32],
  ["2002::", 16], // 6to4 embeds an IPv4 address
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const;

const notPublic = new BlockList();
for (const [net, bits] of NOT_PUBLIC_V4) notPublic.addSubnet(net, bits, "ipv4");
for (const [net, bits] of NOT_PUBLIC_V6) notPublic.addSubnet(net, bits, "ipv6");

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

export interface AddressPolicy {
  /** Local mode: loopback backends are allowed. */
  readonly allowLoopback: boolean;
}

/** Why `address` (an IP) may not be connected to, or null if it may. */
export function addressProblem(address: string, policy: AddressPolicy): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (loopback.check(address, type))
    return policy.allowLoopback ? null : `${address} is a loopback address`;
  if (notPublic.check(address, type)) return `${address} is not a public unicast address`;
  return null;
}

/** The hostname of a URL as an IP literal (brackets stripped), or null if it is a name. */
export function ipLiteral(hostname: string): string | null {
  const bare =
    hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

/** Static checks of a backend base URL; DNS is checked separately. */
export function baseUrlProblem(baseUrl: string, policy: AddressPolicy): string | null {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return "is not a URL";
  }
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  if (url.search !== "" || url.hash !== "") return "must not carry a query or fragment";
  if (url.protocol !== "https:" && !(policy.allowLoopback && url.protocol === "http:"))
    return "must be https";
  const ip = ipLiteral(url.hostname);
  if (ip !== null) return addressProblem(ip, policy);
  if (
    !policy.allowLoopback &&
    (url.hostname === "localhost" || url.hostname.endsWith(".localhost"))
  ) {
    return "must not point at a loopback host";
  }
  return null;
}
