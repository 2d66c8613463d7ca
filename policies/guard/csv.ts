/**
 * CSV bodies (RFC 4180, header line required): header cells are dot paths,
 * every row is a record. Columns are decided once from the header; rows are
 * re-serialised with the released columns only.
 */
import { segmentsOf } from "../fields.ts";
import type { Cut } from "./json.ts";
import { DROP, type GuardPlan, type PlanNode, PSEUDONYMIZE } from "./plan.ts";
import { leak, uninspectable } from "./result.ts";

const REDACTED = "[REDACTED]";
const NEEDS_QUOTES = /[",\r\n]/;

function fail(what: string, at: number): never {
  throw uninspectable("parse_error", `invalid CSV at offset ${at}: ${what}`);
}

/** The offset after a line end at `i` (CRLF or LF alone), or -1 when there is none. */
function lineEndAfter(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 10) return i + 1;
  if (c === 13 && text.charCodeAt(i + 1) === 10) return i + 2;
  return -1;
}

/** Reads the quoted cell opening at `i`; returns its value and the offset after it. */
function quotedCell(text: string, i: number): [string, number] {
  let cell = "";
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) fail("unterminated quoted cell", i);
    cell += text.slice(j, q);
    if (text.charCodeAt(q + 1) !== 34) return [cell, q + 1];
    cell += '"';
    j = q + 2;
  }
}

/** Reads the unquoted cell at `i`; returns the offset after it. */
function plainCellEnd(text: string, i: number): number {
  const n = text.length;
  let j = i;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 44 || c === 10 || c === 13) break;
    if (c === 34) fail("a quote inside an unquoted cell", j);
    j++;
  }
  return j;
}

/**
 * Splits RFC 4180 text into rows of cells. LF alone is accepted as a line end;
 * blank lines at the very end are ignored.
 */
export function parseCsv(text: string, start: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = start;
  const n = text.length;
  while (i < n) {
    if (row.length === 0) {
      const blank = lineEndAfter(text, i);
      if (blank >= 0) {
        if (/^[\r\n]*$/.test(text.slice(i))) break; // blank lines closing the body
        rows.push([""]); // RFC 4180: an empty line is a record of one empty field
        i = blank;
        continue;
      }
    }
    if (text.charCodeAt(i) === 34) {
      const [cell, after] = quotedCell(text, i);
      row.push(cell);
      i = after;
    } else {
      const after = plainCellEnd(text, i);
      row.push(text.slice(i, after));
      i = after;
    }
    if (text.charCodeAt(i) === 44) {
      i++;
      if (i === n || lineEndAfter(text, i) >= 0) row.push("");
      else continue;
    }
    if (i < n) {
      const next = lineEndAfter(text, i);
      if (next < 0) fail("expected ',' or a line end after a cell", i);
      i = next;
    }
    rows.push(row);
    row = [];
  }
  return rows;
}

const quote = (cell: string): string =>
  NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;

/** A row of quoted cells; a lone empty cell is written `""`, or it would read as a blank line. */
const line = (cells: readonly string[]): string =>
  cells.length === 1 && cells[0] === "" ? '""' : cells.join(",");

/** The plan node a header path leads to; unknown segments lead to the unlisted node. */
function nodeFor(plan: GuardPlan, header: string): PlanNode {
  let node = plan.root;
  for (const seg of segmentsOf(header)) node = node.children?.get(seg) ?? node.unknown;
  return node;
}

interface Column {
  readonly index: number;
  readonly node: PlanNode;
}

/** The released columns, in input order; a header that matches a marker is itself core data. */
function releasedColumns(plan: GuardPlan, header: readonly string[]): Column[] {
  const seen = new Set<string>();
  const columns: Column[] = [];
  header.forEach((name, index) => {
    if (seen.has(name)) throw uninspectable("duplicate_key", `duplicate CSV column ${index + 1}`);
    seen.add(name);
    const node = nodeFor(plan, name);
    if (node.leaf === DROP) return;
    const hit = plan.markers?.firstMatch(name) ?? -1;
    if (hit >= 0) {
      if (plan.block) throw leak(hit, node.path);
      return;
    }
    columns.push({ index, node });
  });
  return columns;
}

function cell(plan: GuardPlan, column: Column, value: string): string {
  if (column.node.leaf === PSEUDONYMIZE) return plan.pseudonyms.of(JSON.stringify(value));
  const hit = plan.markers?.firstMatch(value) ?? -1;
  if (hit < 0) return quote(value);
  if (plan.block) throw leak(hit, column.node.path);
  return REDACTED;
}

export function cutCsv(plan: GuardPlan, text: string): Cut {
  const rows = parseCsv(text, text.charCodeAt(0) === 0xfeff ? 1 : 0);
  const header = rows[0];
  if (header === undefined) return fail("a header line is required", 0);
  const columns = releasedColumns(plan, header);
  let out = "";
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] as string[];
    if (row.length !== header.length) {
      fail(`row ${r} has ${row.length} cells, not ${header.length}`, 0);
    }
    if (columns.length > 0)
      out += `${line(columns.map((c) => cell(plan, c, row[c.index] as string)))}\r\n`;
  }
  if (columns.length === 0) return { body: "", records: 0 };
  const head = line(columns.map((c) => quote(header[c.index] as string)));
  return { body: `${head}\r\n${out}`, records: rows.length - 1 };
}
