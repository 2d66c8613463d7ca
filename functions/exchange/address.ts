/**
 * Which network addresses a partner backend may live at. Deployed, only
 * public unicast addresses; locally, loopback too. IP literals reach here in
 * canonical form: the URL parser turns `127.1`, `0x7f.0.0.1` or `2130706433`
 * into `127.0.0.1` and `[::ffff:127.0.0.1]` into `[::ffff:7f00:1]`.
 *
 * IPv4 and IPv6 are checked against separate lists: node's BlockList matches
 * an IPv4 address against IPv6 rules through its IPv4-mapped form (and the
 * reverse), so one mixed list holding `::ffff:0:0/96` refuses every IPv4
 * address. IPv6 is an allow-list: only global unicast (2000::/3) can be
 * public, which refuses every form that embeds or translates an IPv4 address
 * (mapped, translated, compatible, NAT64) outright.
 */
import { BlockList, isIP } from "node:net";

const NOT_PUBLIC_V4 = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const;

/** Inside global unicast (2000::/3), the ranges that are still not a public host. */
const NOT_PUBLIC_V6_GLOBAL = [
  ["2001::", 23], // IETF protocol assignments (Teredo embeds an IPv4 address, ORCHID, ...)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4 embeds an IPv4 address
  ["3fff::", 20], // documentation (RFC 9637)
] as const;

const v4Loopback = new BlockList();
v4Loopback.addSubnet("127.0.0.0", 8, "ipv4");
const v4NotPublic = new BlockList();
for (const [net, bits] of NOT_PUBLIC_V4) v4NotPublic.addSubnet(net, bits, "ipv4");

const v6Loopback = new BlockList();
v6Loopback.addAddress("::1", "ipv6");
const v6GlobalUnicast = new BlockList();
v6GlobalUnicast.addSubnet("2000::", 3, "ipv6");
const v6NotPublic = new BlockList();
for (const [net, bits] of NOT_PUBLIC_V6_GLOBAL) v6NotPublic.addSubnet(net, bits, "ipv6");

export interface AddressPolicy {
  /** Local mode: loopback backends are allowed. */
  readonly allowLoopback: boolean;
}

/** Why `address` (an IP) may not be connected to, or null if it may. */
export function addressProblem(address: string, policy: AddressPolicy): string | null {
  if (address.includes("%")) return `${address} is a scoped address`;
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  if (family === 4) {
    if (v4Loopback.check(address, "ipv4"))
      return policy.allowLoopback ? null : `${address} is a loopback address`;
    return v4NotPublic.check(address, "ipv4") ? `${address} is not a public unicast address` : null;
  }
  if (v6Loopback.check(address, "ipv6"))
    return policy.allowLoopback ? null : `${address} is a loopback address`;
  if (!v6GlobalUnicast.check(address, "ipv6") || v6NotPublic.check(address, "ipv6"))
    return `${address} is not a public unicast address`;
  return null;
}

/** The hostname of a URL as an IP literal (brackets stripped), or null if it is a name. */
export function ipLiteral(hostname: string): string | null {
  const bare =
    hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

/** A host name without its trailing dots (`localhost.` and `localhost` are one host). */
export const bareHostname = (hostname: string): string => hostname.replace(/\.+$/, "");

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
  const host = bareHostname(url.hostname);
  if (host === "") return "must name a host";
  if (!policy.allowLoopback && (host === "localhost" || host.endsWith(".localhost"))) {
    return "must not point at a loopback host";
  }
  return null;
}
