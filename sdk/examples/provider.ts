import { createServer } from "node:http";
import { verifyGatewayRequest } from "@data-sharing-gateway/sdk";

const gateway = { gatewayUrl: "http://127.0.0.1:8787", partnerId: "fleetco" };
createServer(async (req, res) => {
  try {
    const call = await verifyGatewayRequest(req, gateway); // { agreement, party, purpose, action }
    const items = [{ vin: "YV1DZ8256C2271234", mileage: 182345, servedTo: call.party }];
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ items }));
  } catch {
    res.writeHead(401).end(); // not the gateway: forged, expired, for another partner...
  }
}).listen(9000);
