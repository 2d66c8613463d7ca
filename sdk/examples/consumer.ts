import { GatewayClient, GatewayProblem } from "@data-sharing-gateway/sdk";

const gateway = new GatewayClient({
  baseUrl: process.env.GATEWAY_URL ?? "http://127.0.0.1:8787",
  clientId: "insureco",
  clientSecret: process.env.CLIENT_SECRET ?? "",
});
try {
  const result = await gateway.read("agr-1", { purpose: "insurance-pricing" });
  console.log(`${result.records} records`, result.json());
} catch (err) {
  if (!(err instanceof GatewayProblem)) throw err;
  console.error(err.status, err.code, err.retryAfterMs ?? ""); // e.g. 429 quota_exceeded
}
