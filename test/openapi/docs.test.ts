/**
 * GET /docs: one self-contained HTML page for people, rendered on the server
 * from the served document: every operation with its method and path, every
 * code, every schema, links that land, and nothing loaded from elsewhere.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { openapiDocument } from "../../functions/openapi/document.ts";
import { renderDocs } from "../../functions/openapi/html.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { type Doc, fetchDocument, operations, walk } from "./helpers.ts";

let t: TestGateway;
let doc: Doc;
let res: Response;
let html: string;

const htmlText = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

beforeAll(async () => {
  t = await createTestGateway();
  doc = await fetchDocument(t, "http://docs.example:8787");
  res = await t.app.request("http://docs.example:8787/docs");
  html = await res.text();
});

describe("GET /docs", () => {
  it("is an HTML page under a policy that allows only its inline styles", () => {
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    const csp = new Map(
      (res.headers.get("Content-Security-Policy") ?? "")
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0] !== "")
        .map(([name = "", ...sources]) => [name, sources]),
    );
    expect(csp.get("default-src")).toEqual(["'none'"]);
    expect(csp.has("script-src")).toBe(false);
    for (const [name, sources] of csp) {
      for (const s of sources) expect(["'none'", "'unsafe-inline'"], `${name} ${s}`).toContain(s);
    }
    expect(csp.get("style-src")).toEqual(["'unsafe-inline'"]);
  });

  it("loads nothing from anywhere and needs no script", () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/\ssrc=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] ?? "");
    expect(hrefs.length).toBeGreaterThan(100);
    for (const href of hrefs)
      expect(href.startsWith("#") || href === "openapi.json", href).toBe(true);
  });

  it("names every operation with its method and path, once", () => {
    const articles = html.split('<article class="op"').slice(1);
    const ops = operations(doc);
    expect(articles.length).toBe(ops.length);
    for (const o of ops) {
      const heading = `${o.method.toUpperCase()}</span> <code class="path">${htmlText(o.path)}</code>`;
      const matching = articles.filter((a) => a.includes(heading));
      expect(matching.length, `${o.method} ${o.path}`).toBe(1);
      const article = matching[0] ?? "";
      for (const p of o.op.parameters ?? [])
        expect(article, `${o.path} ${p.name}`).toContain(`<code>${htmlText(p.name)}</code>`);
      for (const status of Object.keys(o.op.responses))
        expect(article, `${o.path} ${status}`).toContain(`<td class="status">${status}</td>`);
    }
    for (const path of Object.keys(doc.paths)) expect(html).toContain(htmlText(path));
  });

  it("shows every problem code, every schema, and request bodies member by member", () => {
    const codes = new Set<string>();
    walk(doc, (value, pointer) => {
      if (/\/properties\/(code|error)\/enum\/\d+$/.test(pointer)) codes.add(String(value));
    });
    expect(codes.size).toBeGreaterThan(40);
    for (const code of codes) expect(html, code).toContain(`<code>${code}</code>`);
    for (const name of Object.keys(doc.components.schemas)) {
      expect(html).toContain(`<h3>${htmlText(name)}</h3>`);
    }
    const create =
      html.split('<article class="op"').find((a) => a.includes('id="op-createpartner"')) ?? "";
    for (const member of ["id", "name", "jurisdiction", "baseUrl"])
      expect(create).toContain(`<code>${member}</code>`);
  });

  it("links only to anchors that exist", () => {
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    const targets = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    const broken = targets.filter((target) => !ids.has(target));
    expect(broken).toEqual([]);
  });

  it("names the server the page was reached at", () => {
    expect(html).toContain("<code>http://docs.example:8787</code>");
  });

  it("escapes what it shows", () => {
    const base = openapiDocument() as Doc;
    const hostile = {
      ...base,
      info: { ...base.info, description: '<script>alert(1)</script> & "quotes"' },
      servers: [{ url: "http://x/<img src=x onerror=alert(1)>" }],
    };
    const page = renderDocs(hostile);
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<img");
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;");
  });
});
