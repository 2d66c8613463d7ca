/**
 * End-to-end local transfer, against `curl` of the same body straight from
 * the provider, in the same run: `npm run bench -- transfer`.
 *
 * The gateway is `startLocalGateway` (the code `npm start` runs: DynamoDB
 * Local in memory, the embedded S3-compatible store, transfers run in this
 * process) on this thread; the provider backend runs on a thread of its own
 * and answers GET /telemetry/bulk with TRANSFER_MIB (300) MiB of NDJSON,
 * generated as it is sent (the bench's telemetry records, one per line). A
 * consumer POSTs /v1/transfers, polls GET /v1/transfers/{id} until the
 * transfer is `ready`, and `curl` fetches its `url`; the figure is the
 * provider's bytes over that whole time. `curl` of the provider's URL is the
 * baseline. Both downloads are hashed, and the transfer's must be what the
 * transfer says (`bytes`, `sha256`).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { TransferView } from "../functions/transfers/schemas.ts";
import { ecosystem } from "./e2e.ts";
import { accessToken, httpRequest, keepAliveAgent } from "./load/http.ts";
import { startLoadTarget } from "./load/local.ts";
import { nextMessage } from "./load/threads.ts";
import { emit, round } from "./stats.ts";

const AGREEMENT = "xfer-agr-1";
const PURPOSE = "insurance-pricing";
const MIB = 1024 * 1024;

/** The provider: plain JavaScript on a thread of its own (the bench's telemetry records as NDJSON). */
const PROVIDER = `
const { createServer } = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const record = (i) => JSON.stringify({
  vin: "YV1DZ8256C22" + String(71234 + (i % 90000)).padStart(5, "0"),
  mileage: 182345 + i,
  speed: { avg: 61.2, max: 131 },
  engine: { calibration: "CAL-" + String(i % 1000000).padStart(6, "0"), temperature: 88 },
  driver: { name: "Driver " + i, license: "LIC-" + i },
  notes: i % 3 === 0 ? "Serviced in Malmö" : "",
  routePlan: "depot-7 > E6 > customer-42",
}) + "\\n";
// One MiB of whole lines, padded by the last line's notes to exactly 1 MiB.
let chunk = "";
let n = 0;
while (Buffer.byteLength(chunk) + Buffer.byteLength(record(n)) < 1048576 - 200) chunk += record(n++);
const pad = 1048576 - Buffer.byteLength(chunk) - Buffer.byteLength(record(n));
chunk += record(n).replace('"notes":"', '"notes":"' + "x".repeat(pad));
const body = Buffer.from(chunk);
if (body.length !== 1048576) throw new Error("chunk is " + body.length);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "application/x-ndjson", "content-length": String(body.length * workerData.mib) });
  let sent = 0;
  const more = () => {
    while (sent < workerData.mib) {
      sent++;
      if (!res.write(body)) return res.once("drain", more);
    }
    res.end();
  };
  more();
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port, linesPerMib: n + 1 }));
parentPort.on("message", (m) => { if (m === "stop") server.close(() => parentPort.close()); });
`;

interface Download {
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
}

/** `curl` of a URL, its output hashed as it arrives. */
function curl(url: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("curl", ["--silent", "--show-error", "--fail", "--output", "-", url]);
    const hash = createHash("sha256");
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${stderr.trim()}`));
      resolve({
        bytes,
        sha256: hash.digest("hex"),
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}

const mibPerSecond = (bytes: number, seconds: number) => round(bytes / MIB / seconds, 1);

export async function run(): Promise<void> {
  const raw = process.env.TRANSFER_MIB ?? "300";
  const mib = Number(raw);
  if (!Number.isInteger(mib) || mib < 1 || mib > 5 * 1024)
    throw new Error("TRANSFER_MIB must be an integer from 1 to 5120");
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const provider = new Worker(PROVIDER, { eval: true, workerData: { mib } });
    stops.push(async () => {
      provider.postMessage("stop");
      await new Promise((r) => setTimeout(r, 200));
      await provider.terminate();
    });
    const { port, linesPerMib } = await nextMessage<{ port: number; linesPerMib: number }>(
      provider,
    );
    const providerUrl = `http://127.0.0.1:${port}`;
    const target = await startLoadTarget();
    stops.push(() => target.stop());
    const secrets = await ecosystem(target, providerUrl, { prefix: "xfer", agreement: AGREEMENT });
    const agent = keepAliveAgent(2);
    stops.push(async () => agent.destroy());
    const token = await accessToken(
      agent,
      target.base,
      "xfer-insureco",
      secrets["xfer-insureco"] ?? "",
      `agreement:${AGREEMENT}`,
    );
    const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };

    // The baseline: the same body straight from the provider.
    const direct = await curl(`${providerUrl}/telemetry/bulk`);
    if (direct.bytes !== mib * MIB) throw new Error(`the provider sent ${direct.bytes} bytes`);

    const started = performance.now();
    const created = await httpRequest(agent, new URL(`${target.base}/v1/transfers`), {
      method: "POST",
      headers: { ...headers, "Data-Purpose": PURPOSE },
      body: JSON.stringify({ agreement: AGREEMENT, subpath: "/bulk" }),
    });
    if (created.status !== 202)
      throw new Error(`POST /v1/transfers: ${created.status} ${created.body.toString("utf8")}`);
    const { id } = TransferView.parse(JSON.parse(created.body.toString("utf8")));
    let transfer: TransferView;
    for (;;) {
      const res = await httpRequest(agent, new URL(`${target.base}/v1/transfers/${id}`), {
        headers,
      });
      if (res.status !== 200) throw new Error(`GET /v1/transfers/${id}: ${res.status}`);
      transfer = TransferView.parse(JSON.parse(res.body.toString("utf8")));
      if (transfer.state !== "running") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const readySeconds = (performance.now() - started) / 1000;
    if (transfer.state !== "ready" || !transfer.url)
      throw new Error(`the transfer ended ${transfer.state} (${transfer.code ?? "no code"})`);
    const fetched = await curl(transfer.url);
    const totalSeconds = (performance.now() - started) / 1000;
    if (fetched.bytes !== transfer.bytes || fetched.sha256 !== transfer.sha256)
      throw new Error("the URL served other bytes than the transfer describes");
    if (transfer.records !== linesPerMib * mib)
      throw new Error(`${transfer.records} records released of ${linesPerMib * mib}`);

    emit({
      bench: "transfer.e2e",
      mib,
      records: transfer.records,
      cutMiB: round(fetched.bytes / MIB, 1),
      direct: {
        seconds: round(direct.seconds, 2),
        mibPerSecond: mibPerSecond(direct.bytes, direct.seconds),
      },
      transfer: {
        readySeconds: round(readySeconds, 2),
        downloadSeconds: round(fetched.seconds, 2),
        totalSeconds: round(totalSeconds, 2),
        // The provider's bytes over POST → ready → downloaded.
        mibPerSecond: mibPerSecond(mib * MIB, totalSeconds),
        toReadyMibPerSecond: mibPerSecond(mib * MIB, readySeconds),
      },
      ratioToDirect: round(totalSeconds / direct.seconds, 1),
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
