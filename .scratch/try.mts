import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { presigningClient } from "/work/wt/transfers/functions/transfers/s3-storage.ts";
const c = presigningClient("http://127.0.0.1:8080/local-objects", "secret");
const at = new Date();
console.log(await getSignedUrl(c, new GetObjectCommand({ Bucket: "b1", Key: "transfers/trf-1/body" }), { expiresIn: 300, signingDate: at }));
console.log(await getSignedUrl(c, new PutObjectCommand({ Bucket: "b1", Key: "transfers/trf-1/upload", ContentType: "text/csv" }), { expiresIn: 300, signingDate: at }));
console.log(await getSignedUrl(c, new GetObjectCommand({ Bucket: "b1", Key: "transfers/trf-1/body" }), { expiresIn: 300, signingDate: at }));
