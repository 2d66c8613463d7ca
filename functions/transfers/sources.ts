/**
 * Where a transfer's body comes from: a read's from the provider's backend
 * (the same URL and gateway JWT as a read exchange), a deliver's from the
 * object the provider uploaded. A source the transfer cannot use ends it
 * `failed` with the exchange's code for it.
 */
import type { Readable } from "node:stream";
import { type MediaKind, mediaKindOf } from "../../policies/guard/index.ts";
import type { Agreement, Dataset, Partner } from "../../policies/model.ts";
import { subpathSegments, upstreamUrl } from "../exchange/path.ts";
import type { Gateway } from "../gateway.ts";
import type { TransferRecord } from "../store/transfers.ts";
import { uploadKey } from "./keys.ts";
import type { TransferTools } from "./tools.ts";
import { openSource } from "./upstream-stream.ts";

export type SourceRefusal =
  | "upstream_error"
  | "upstream_timeout"
  | "uninspectable_content"
  | "upload_missing";

export type TransferSource =
  | {
      readonly ok: true;
      readonly body: Readable;
      readonly kind: MediaKind;
      readonly contentEncoding: string | undefined;
    }
  | { readonly ok: false; readonly refusal: SourceRefusal };

const ACCEPT = "application/x-ndjson, application/json;q=0.9, text/csv;q=0.8";

export async function openTransferSource(
  deps: Pick<Gateway, "settings" | "addressPolicy" | "transferStorage" | "clock" | "log">,
  tools: TransferTools,
  t: TransferRecord,
  p: {
    readonly agreement: Agreement;
    readonly dataset: Dataset;
    readonly provider: Partner;
    readonly consumer: Partner;
  },
): Promise<TransferSource> {
  if (t.direction === "deliver") {
    const kind = mediaKindOf(t.contentType);
    const object = await deps.transferStorage.open(uploadKey(t.id));
    if (object === undefined) return { ok: false, refusal: "upload_missing" };
    if (kind === null) {
      object.body.destroy();
      return { ok: false, refusal: "uninspectable_content" };
    }
    return { ok: true, body: object.body, kind, contentEncoding: t.contentEncoding ?? undefined };
  }
  const url = upstreamUrl(
    p.provider.baseUrl,
    p.dataset.path,
    subpathSegments(t.subpath ?? ""),
    t.query ?? "",
  );
  const token = await tools.backendTokens.tokenFor(
    {
      aud: p.provider.id,
      agreement: p.agreement.id,
      party: p.consumer.id,
      purpose: t.purpose,
      action: "read",
    },
    deps.clock(),
  );
  const res = await openSource(
    deps.addressPolicy,
    url,
    {
      Authorization: `Bearer ${token}`,
      "User-Agent": "data-sharing-gateway/1",
      "X-Request-Id": t.requestId,
      Accept: ACCEPT,
      "Accept-Encoding": "gzip",
      ...(t.purpose === null ? {} : { "Data-Purpose": t.purpose }),
    },
    deps.settings.upstreamTimeoutMs,
  );
  if (!res.ok) {
    deps.log.warn("upstream_error", { who: "provider", kind: res.kind, transfer: t.id });
    return { ok: false, refusal: res.kind === "timeout" ? "upstream_timeout" : "upstream_error" };
  }
  const kind = mediaKindOf(res.contentType);
  if (res.status !== 200 || kind === null) {
    res.body.destroy();
    deps.log.warn("upstream_error", { who: "provider", status: res.status, transfer: t.id });
    return { ok: false, refusal: res.status !== 200 ? "upstream_error" : "uninspectable_content" };
  }
  return { ok: true, body: res.body, kind, contentEncoding: res.contentEncoding };
}
