/**
 * The OpenAPI document as one self-contained HTML page for people: rendered
 * on the server, no scripts, no external resources, styles inline. Operations
 * are grouped by tag, each with its parameters, request body, responses and
 * problem codes; schemas are tables with links between them.
 */
import type { JsonSchema } from "./generate.ts";

type Doc = { readonly [key: string]: unknown };
type Obj = { readonly [key: string]: unknown };

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const MAX_DEPTH = 6;
const LONG_ENUM = 16;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

const code = (v: unknown) => `<code>${escapeHtml(v)}</code>`;
const literal = (v: unknown) => code(JSON.stringify(v));

/** Plain text with `code spans`, "- " bullet lines and line breaks kept; everything else escaped. */
function prose(text: unknown): string {
  if (typeof text !== "string") return "";
  const inline = (line: string) => escapeHtml(line).replace(/`([^`]+)`/g, "<code>$1</code>");
  const out: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (list.length > 0) out.push(`<ul>${list.map((i) => `<li>${i}</li>`).join("")}</ul>`);
    list = [];
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("- ")) list.push(inline(line.slice(2)));
    else {
      flush();
      out.push(inline(line));
    }
  }
  flush();
  return out.join("<br>").replace(/<br><ul>/g, "<ul>");
}

const refName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1);

class Renderer {
  constructor(private readonly doc: Doc) {}

  private component(kind: "schemas" | "responses" | "headers", ref: unknown): Obj | undefined {
    if (typeof ref !== "string") return undefined;
    const components = isObj(this.doc.components) ? this.doc.components : {};
    const group = components[kind];
    const found = isObj(group) ? group[refName(ref)] : undefined;
    return isObj(found) ? found : undefined;
  }

  private deref(kind: "responses" | "headers", value: unknown): Obj {
    if (isObj(value) && typeof value.$ref === "string")
      return this.component(kind, value.$ref) ?? {};
    return isObj(value) ? value : {};
  }

  // ------------------------------------------------------------ schemas

  typeLabel(s: unknown): string {
    if (!isObj(s)) return "any";
    if (typeof s.$ref === "string") {
      const name = refName(s.$ref);
      return `<a href="#schema-${escapeHtml(slug(name))}">${escapeHtml(name)}</a>`;
    }
    if ("const" in s) return literal(s.const);
    if (Array.isArray(s.enum)) {
      const values = s.enum.map(literal);
      if (values.length <= LONG_ENUM) return `one of ${values.join(", ")}`;
      return `one of <details class="enum"><summary>${values.length} values</summary>${values.join(", ")}</details>`;
    }
    for (const key of ["anyOf", "oneOf"] as const) {
      const list = s[key];
      if (Array.isArray(list)) return list.map((x) => this.typeLabel(x)).join(" | ");
    }
    if (Array.isArray(s.allOf)) return s.allOf.map((x) => this.typeLabel(x)).join(" &amp; ");
    const type = Array.isArray(s.type) ? s.type.join(" | ") : s.type;
    if (type === "array") return `array of ${this.typeLabel(s.items)}`;
    if (type === "object" || (type === undefined && isObj(s.properties))) {
      if (!isObj(s.properties) && isObj(s.additionalProperties)) {
        return `map of ${this.typeLabel(s.propertyNames ?? { type: "string" })} → ${this.typeLabel(s.additionalProperties)}`;
      }
      return "object";
    }
    if (typeof type === "string")
      return escapeHtml(type) + (s.format ? ` (${escapeHtml(s.format)})` : "");
    return "any";
  }

  private constraints(s: Obj): string {
    const parts: string[] = [];
    const add = (label: string, key: string) => {
      if (s[key] !== undefined) parts.push(`${label} ${literal(s[key])}`);
    };
    add("min length", "minLength");
    add("max length", "maxLength");
    add("minimum", "minimum");
    add("maximum", "maximum");
    add("min items", "minItems");
    add("max items", "maxItems");
    add("default", "default");
    if (typeof s.pattern === "string") {
      // Long generated patterns (ISO dates) would drown the table: one click away.
      parts.push(
        s.pattern.length > 60
          ? `<details class="pattern"><summary>pattern</summary>${code(s.pattern)}</details>`
          : `pattern ${code(s.pattern)}`,
      );
    }
    if (s.additionalProperties === false) parts.push("no other members");
    return parts.join(" · ");
  }

  private describe(s: unknown): string {
    if (!isObj(s)) return "";
    const bits = [this.constraints(s), prose(s.description)].filter((b) => b !== "");
    return bits.join("<br>");
  }

  /** A schema as a table of its members (objects), or its type line with details. */
  schema(s: unknown, depth = 0): string {
    if (!isObj(s)) return `<p>${this.typeLabel(s)}</p>`;
    const target =
      typeof s.$ref === "string" && depth === 0 ? this.component("schemas", s.$ref) : s;
    if (target === undefined) return `<p>${this.typeLabel(s)}</p>`;
    const head =
      target === s
        ? ""
        : `<p class="ref">${this.typeLabel(s)}${isObj(target) && target.description ? ` — ${prose(target.description)}` : ""}</p>`;
    if (Array.isArray(target.allOf) && depth < MAX_DEPTH) {
      return `${head}<p>all of:</p>${target.allOf.map((x) => this.schema(x, depth + 1)).join("")}`;
    }
    if (isObj(target.properties) && depth < MAX_DEPTH) {
      return head + this.membersTable(target, depth);
    }
    const details = this.describe(target);
    return `${head}<p>${this.typeLabel(target)}${details === "" ? "" : `<br>${details}`}</p>`;
  }

  private membersTable(s: Obj, depth: number): string {
    const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
    const rows = Object.entries(s.properties as Obj).map(([name, prop]) => {
      const nested = this.nested(prop, depth);
      return `<tr><td>${code(name)}${required.has(name) ? ' <span class="req">required</span>' : ""}</td><td>${this.typeLabel(prop)}</td><td>${this.describe(prop)}${nested}</td></tr>`;
    });
    const extra =
      s.additionalProperties === false
        ? '<p class="note">No other members.</p>'
        : isObj(s.additionalProperties) && Object.keys(s.additionalProperties).length > 0
          ? `<p class="note">Other members: ${this.typeLabel(s.additionalProperties)}</p>`
          : "";
    return `<table class="members"><thead><tr><th>member</th><th>type</th><th>rules</th></tr></thead><tbody>${rows.join("")}</tbody></table>${extra}`;
  }

  /** Inline objects (and arrays of them) get their own nested table. */
  private nested(prop: unknown, depth: number): string {
    if (!isObj(prop)) return "";
    const inner = prop.type === "array" && isObj(prop.items) ? prop.items : prop;
    if (isObj(inner.properties) && typeof inner.$ref !== "string") {
      return this.membersTable(inner, depth + 1);
    }
    return "";
  }

  // ------------------------------------------------------------ operations

  private parameters(list: unknown): string {
    if (!Array.isArray(list) || list.length === 0) return "";
    const rows = list
      .filter(isObj)
      .map(
        (p) =>
          `<tr><td>${code(p.name)}${p.required === true ? ' <span class="req">required</span>' : ""}</td><td>${escapeHtml(p.in)}</td><td>${this.typeLabel(p.schema)}</td><td>${[prose(p.description), this.describe(p.schema)].filter((x) => x !== "").join("<br>")}</td></tr>`,
      );
    return `<h4>Parameters</h4><table class="params"><thead><tr><th>name</th><th>in</th><th>type</th><th>description and rules</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  }

  private content(content: unknown, expand: boolean): string {
    if (!isObj(content)) return "";
    return Object.entries(content)
      .map(([type, media]) => {
        const m = isObj(media) ? media : {};
        const body = expand ? this.schema(m.schema) : `<p>${this.typeLabel(m.schema)}</p>`;
        const example =
          m.example === undefined
            ? ""
            : `<details><summary>example</summary><pre>${escapeHtml(JSON.stringify(m.example, null, 2))}</pre></details>`;
        return `<div class="media"><p class="type">${code(type)}</p>${body}${example}</div>`;
      })
      .join("");
  }

  private responses(responses: unknown): string {
    if (!isObj(responses)) return "";
    const rows = Object.entries(responses).map(([status, raw]) => {
      const r = this.deref("responses", raw);
      const headers = isObj(r.headers)
        ? Object.entries(r.headers)
            .filter(([name]) => name !== "X-Request-Id")
            .map(([name, h]) => `${code(name)} ${prose(this.deref("headers", h).description)}`)
        : [];
      const isError = Number(status) >= 400;
      const detail = isError
        ? `<p>${Object.keys(isObj(r.content) ? r.content : {})
            .map(code)
            .join(" ")}</p>${prose(r.description)}`
        : `${prose(r.description)}${this.content(r.content, true)}`;
      const headerNote =
        headers.length > 0 ? `<p class="note">headers: ${headers.join("; ")}</p>` : "";
      return `<tr class="${isError ? "err" : "ok"}"><td class="status">${escapeHtml(status)}</td><td>${detail}${headerNote}</td></tr>`;
    });
    return `<h4>Responses</h4><table class="responses"><tbody>${rows.join("")}</tbody></table>`;
  }

  private security(sec: unknown): string {
    if (!Array.isArray(sec) || sec.length === 0) return '<p class="sec">No authentication.</p>';
    const options = sec.filter(isObj).map((req) => {
      const entries = Object.entries(req);
      if (entries.length === 0) return "none (a client assertion in the body)";
      return entries
        .map(([scheme, scopes]) =>
          Array.isArray(scopes) && scopes.length > 0
            ? `${escapeHtml(scheme)} with scope ${scopes.map(code).join(", ")}`
            : escapeHtml(scheme),
        )
        .join(" and ");
    });
    return `<p class="sec">Authentication: ${options.join(", or ")}</p>`;
  }

  operation(path: string, method: string, op: Obj): string {
    const id = `op-${slug(String(op.operationId ?? `${method}-${path}`))}`;
    const body = isObj(op.requestBody)
      ? `<h4>Request body${op.requestBody.required === true ? ' <span class="req">required</span>' : ""}</h4>${this.content(op.requestBody.content, true)}`
      : "";
    return `<article class="op" id="${escapeHtml(id)}">
<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code class="path">${escapeHtml(path)}</code></h3>
<p class="summary">${prose(op.summary)}</p>
${op.description ? `<p>${prose(op.description)}</p>` : ""}
${this.security(op.security)}
${this.parameters(op.parameters)}
${body}
${this.responses(op.responses)}
</article>`;
  }

  // ------------------------------------------------------------ page

  page(): string {
    const info = isObj(this.doc.info) ? this.doc.info : {};
    const paths = isObj(this.doc.paths) ? this.doc.paths : {};
    const tags = Array.isArray(this.doc.tags) ? this.doc.tags.filter(isObj) : [];
    const byTag = new Map<string, { path: string; method: string; op: Obj }[]>();
    for (const t of tags) byTag.set(String(t.name), []);
    for (const [path, item] of Object.entries(paths)) {
      if (!isObj(item)) continue;
      for (const method of METHODS) {
        const op = item[method];
        if (!isObj(op)) continue;
        const tag = Array.isArray(op.tags) && op.tags.length > 0 ? String(op.tags[0]) : "Other";
        const list = byTag.get(tag) ?? [];
        list.push({ path, method, op });
        byTag.set(tag, list);
      }
    }
    const tagDescription = (name: string) => tags.find((t) => t.name === name)?.description;
    const servers = Array.isArray(this.doc.servers) ? this.doc.servers.filter(isObj) : [];

    const nav = [...byTag]
      .filter(([, ops]) => ops.length > 0)
      .map(
        ([tag, ops]) =>
          `<li><a href="#tag-${escapeHtml(slug(tag))}">${escapeHtml(tag)}</a><ul>${ops
            .map(
              ({ path, method, op }) =>
                `<li><a href="#op-${escapeHtml(slug(String(op.operationId)))}"><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> ${escapeHtml(path)}</a></li>`,
            )
            .join("")}</ul></li>`,
      )
      .join("");

    const sections = [...byTag]
      .filter(([, ops]) => ops.length > 0)
      .map(
        ([tag, ops]) =>
          `<section id="tag-${escapeHtml(slug(tag))}"><h2>${escapeHtml(tag)}</h2>${tagDescription(tag) ? `<p>${prose(tagDescription(tag))}</p>` : ""}${ops
            .map(({ path, method, op }) => this.operation(path, method, op))
            .join("\n")}</section>`,
      )
      .join("\n");

    const components = isObj(this.doc.components) ? this.doc.components : {};
    const schemes = isObj(components.securitySchemes) ? components.securitySchemes : {};
    const auth = Object.entries(schemes)
      .filter((e): e is [string, Obj] => isObj(e[1]))
      .map(([name, s]) => {
        const flows = isObj(s.flows) ? s.flows : {};
        const cc = isObj(flows.clientCredentials) ? flows.clientCredentials : undefined;
        const scopes =
          cc !== undefined && isObj(cc.scopes)
            ? `<p>Token URL ${code(cc.tokenUrl)}. Scopes:</p><ul>${Object.entries(cc.scopes)
                .map(([scope, what]) => `<li>${code(scope)}: ${prose(what)}</li>`)
                .join("")}</ul>`
            : "";
        return `<h3>${escapeHtml(name)} <small>(${escapeHtml(s.type)}${s.scheme ? ` ${escapeHtml(s.scheme)}` : ""})</small></h3><p>${prose(s.description)}</p>${scopes}`;
      })
      .join("");

    const schemas = isObj(components.schemas) ? components.schemas : {};
    const schemaSections = Object.entries(schemas)
      .map(
        ([name, s]) =>
          `<section class="schema" id="schema-${escapeHtml(slug(name))}"><h3>${escapeHtml(name)}</h3>${isObj(s) && s.description ? `<p>${prose(s.description)}</p>` : ""}${this.schema(s as JsonSchema, 1)}</section>`,
      )
      .join("\n");

    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)} — API</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
<p>${prose(info.summary)}</p>
<p>${prose(info.description)}</p>
<p>Server: ${servers.map((s) => code(s.url)).join(", ") || "this origin"} · machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI ${escapeHtml(this.doc.openapi)})</p>
</header>
<nav><h2>Contents</h2><ul>${nav}<li><a href="#authentication">Authentication</a></li><li><a href="#schemas">Schemas</a></li></ul></nav>
<main>
<section id="authentication"><h2>Authentication</h2>${auth}</section>
${sections}
<section id="schemas"><h2>Schemas</h2>${schemaSections}</section>
</main>
</body>
</html>
`;
  }
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#fafbfc}
header,main,nav{max-width:1100px;margin:0 auto;padding:0 1.2rem}
header{padding-top:1rem}
h1 small,h3 small{color:#667;font-weight:normal}
h2{border-bottom:2px solid #d6dde5;padding-bottom:.2rem;margin-top:2.2rem}
nav ul{list-style:none;padding-left:1rem;margin:.2rem 0}
nav>ul{columns:2;padding-left:0}
nav li{break-inside:avoid}
nav a{text-decoration:none}
a{color:#0b5cad}
code{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:0 .25em;border-radius:3px}
pre{background:#eef1f4;padding:.6rem;overflow:auto;border-radius:4px}
.op{background:#fff;border:1px solid #d6dde5;border-radius:6px;padding:.4rem 1rem .8rem;margin:1rem 0}
.op h3{margin:.4rem 0}
.path{font-size:15px;background:none}
.method{display:inline-block;min-width:3.6em;text-align:center;font:bold 12px/1.6 ui-monospace,monospace;color:#fff;border-radius:3px;padding:0 .3em}
.method.get{background:#1f7a4d}.method.post{background:#0b5cad}.method.put{background:#8a5a00}.method.patch{background:#6b4fa3}.method.delete{background:#b3261e}
.summary{font-weight:600}
.sec{color:#445}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border:1px solid #e1e6eb;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f1f4f7;font-weight:600}
td table{margin:.4rem 0 0}
.req{color:#b3261e;font-size:12px}
.status{font-weight:bold;width:4em}
tr.err .status{color:#b3261e}tr.ok .status{color:#1f7a4d}
.note{color:#556;font-size:13px;margin:.2rem 0}
.media .type{margin:.5rem 0 .2rem}
.schema{background:#fff;border:1px solid #e1e6eb;border-radius:6px;padding:.2rem 1rem .6rem;margin:.8rem 0}
details.enum,details.pattern{display:inline}
`;

/** The page for `doc` (the document as served, servers included). */
export function renderDocs(doc: Doc): string {
  return new Renderer(doc).page();
}
