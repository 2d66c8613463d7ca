/**
 * A transfer worker in a process of its own, for the crash test: it runs one
 * job against the test's tables and bucket and is killed (SIGKILL) while the
 * provider's answer streams. Arguments: one JSON object (see `Args`).
 */
import { ephemeralKeys } from "../../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../../functions/auth/pseudonyms.ts";
import { createGateway, DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { localDynamoClient } from "../../functions/local/server.ts";
import { silentLogger } from "../../functions/log.ts";
import type { TableNames } from "../../functions/store/db.ts";
import { localS3Client } from "../../functions/store/objects.ts";
import { S3TransferStorage } from "../../functions/transfers/s3-storage.ts";
import { multipartWrite } from "../../functions/transfers/s3-upload.ts";
import { runTransferJob } from "../../functions/transfers/worker.ts";

interface Args {
  readonly dynamoEndpoint: string;
  readonly tables: TableNames;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly issuer: string;
  readonly transferId: string;
  /** Added to this process's clock (the test's gateway runs shifted too). */
  readonly clockOffsetMs: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const gw = createGateway({
  client: localDynamoClient(args.dynamoEndpoint),
  tables: args.tables,
  keys: await ephemeralKeys(),
  pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 7)),
  settings: {
    ...DEFAULT_SETTINGS,
    issuer: args.issuer,
    audience: args.issuer,
    localBackends: true,
    upstreamTimeoutMs: 60_000,
  },
  log: silentLogger,
  clock: () => new Date(Date.now() + args.clockOffsetMs),
  transferStorage: new S3TransferStorage(localS3Client(args.s3Endpoint), args.bucket, {
    partSize: 5 * 1024 * 1024,
    write: multipartWrite,
  }),
});
const result = await runTransferJob(gw, { transferId: args.transferId });
process.stdout.write(`${JSON.stringify(result)}\n`);
