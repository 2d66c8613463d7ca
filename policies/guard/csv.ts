/**
 * CSV bodies (RFC 4180, header line required): header cells are dot paths,
 * every row is a record. Columns are decided once from the header; rows are
 * re-serialised with the released columns only, and no cell leaves that a
 * spreadsheet would run as a formula. Rows are read one at a time
 * from the text received so far; a row the text ends inside is read again
 * once more came.
 */
import { segmentsOf } from "../fields.ts";
import type { Feed, Framer } from "./feed.ts";
import type * as Plan from "./plan.ts";
import type { GuardPlan, PlanNode } from "./plan.ts";
import { leak, NEED_MORE, uninspectable } from "./result.ts";

const REDACTED = "[REDACTED]";
const DROP: typeof Plan.DROP = 0;
const PSEUDONYMIZE: typeof Plan.PSEUDONYMIZE = 2;
const NEEDS_QUOTES = /[",\r\n]/;
const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Reads rows of RFC 4180 text; LF alone is accepted as a line end. */
export class CsvReader {
  text = "";
  end = 0;
  base = 0;
  final = true;
  pos = 0;
  /** Where the text stopped being decidable when a row needed more (Framer.undecidedAt), or -1. */
  undecidedAt = -1;
  /** A position known to hold something other than a line end: blank lines before it are rows. */
  #nonBlankAt = -1;

  reset(text: string, base: number): void {
    this.#nonBlankAt = this.#nonBlankAt < 0 ? -1 : this.#nonBlankAt - (base - this.base);
    this.text = text;
    this.end = text.length;
    this.base = base;
  }

  fail(what: string, at: number, probe: number = at): never {
    if (probe >= this.end && !this.final) throw NEED_MORE;
    throw uninspectable(
      "parse_error",
      `invalid CSV at offset ${this.base + at}: ${what}`,
      this.base + Math.min(probe, this.end),
    );
  }

  /**
   * The row at `pos`, moving past it; null when the text is done: at its end,
   * or where only blank lines close it (a blank line inside the body is a row
   * of one empty cell, as in RFC 4180).
   */
  row(): string[] | null {
    const t = this.text;
    const n = this.end;
    let i = this.pos;
    if (i >= n) {
      if (this.final) return null;
      throw NEED_MORE;
    }
    const blank = this.lineEndAfter(i);
    if (blank >= 0) {
      if (i >= this.#nonBlankAt) {
        let j = blank;
        while (j < n && (t.charCodeAt(j) === LF || t.charCodeAt(j) === CR)) j++;
        if (j >= n) {
          if (!this.final) throw NEED_MORE;
          this.pos = n; // blank lines closing the body
          return null;
        }
        this.#nonBlankAt = j;
      }
      this.pos = blank;
      return [""];
    }
    const row: string[] = [];
    for (;;) {
      if (t.charCodeAt(i) === QUOTE) {
        i = this.quotedCell(i, row);
      } else {
        const after = this.plainCellEnd(i);
        row.push(t.slice(i, after));
        i = after;
      }
      if (t.charCodeAt(i) === COMMA) {
        i++;
        if (i >= n) {
          if (!this.final) throw NEED_MORE;
          row.push("");
        } else if (this.lineEndAfter(i) >= 0) {
          row.push("");
        } else {
          continue;
        }
      }
      if (i < n) {
        const next = this.lineEndAfter(i);
        if (next < 0) this.fail("expected ',' or a line end after a cell", i);
        i = next;
      } else if (!this.final) {
        throw NEED_MORE;
      }
      this.pos = i;
      return row;
    }
  }

  /** The offset after a line end at `i` (CRLF or LF alone), or -1 when there is none. */
  private lineEndAfter(i: number): number {
    const c = this.text.charCodeAt(i);
    if (c === LF) return i + 1;
    if (c !== CR) return -1;
    if (i + 1 >= this.end && !this.final) {
      // The CR may begin a CRLF, or be refused right here.
      this.undecidedAt = i;
      throw NEED_MORE;
    }
    return this.text.charCodeAt(i + 1) === LF ? i + 2 : -1;
  }

  /** Reads the quoted cell opening at `i` into `row`; returns the offset after it. */
  private quotedCell(i: number, row: string[]): number {
    const t = this.text;
    let cell = "";
    let j = i + 1;
    for (;;) {
      const q = t.indexOf('"', j);
      if (q < 0) this.fail("unterminated quoted cell", i, this.end);
      // A quote ending the text so far may be the first of an escaped pair.
      if (q + 1 >= this.end && !this.final) throw NEED_MORE;
      cell += t.slice(j, q);
      if (t.charCodeAt(q + 1) !== QUOTE) {
        row.push(cell);
        return q + 1;
      }
      cell += '"';
      j = q + 2;
    }
  }

  /** The end of the unquoted cell at `i`. */
  private plainCellEnd(i: number): number {
    const t = this.text;
    const n = this.end;
    let j = i;
    while (j < n) {
      const c = t.charCodeAt(j);
      if (c === COMMA || c === LF || c === CR) return j;
      if (c === QUOTE) this.fail("a quote inside an unquoted cell", j);
      j++;
    }
    if (!this.final) throw NEED_MORE;
    return j;
  }
}

/** A number as a spreadsheet reads one: `-12`, `+3.5`, `-.5e-3`. */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Spreadsheet formula injection (`=HYPERLINK(...)`, `@SUM(...)`, `+cmd|...`):
 * a cell that starts with `=`, `+`, `-` or `@` and is not a number leaves
 * prefixed with `'`, which spreadsheets read as "this is text". Applied to
 * every cell that leaves, header cells too, in both directions.
 */
export function defused(cell: string): string {
  const c = cell.charCodeAt(0);
  // = + - @
  if (c !== 61 && c !== 43 && c !== 45 && c !== 64) return cell;
  return NUMBER.test(cell) ? cell : `'${cell}`;
}

/** A released cell as CSV text: defused, then quoted when it must be. */
const quote = (value: string): string => {
  const cell = defused(value);
  return NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
};

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

export class CsvFramer implements Framer {
  readonly rereads = true;
  readonly reader = new CsvReader();
  #header: string[] | null = null;
  #columns: Column[] = [];
  /** Rows read after the header. */
  #rows = 0;

  constructor(readonly plan: GuardPlan) {}

  get scanPos(): number {
    return this.reader.pos;
  }

  get undecidedAt(): number {
    return this.reader.undecidedAt;
  }

  retext(feed: Feed): void {
    this.reader.reset(feed.text, feed.base);
  }

  pump(feed: Feed): void {
    const reader = this.reader;
    reader.final = feed.final;
    for (;;) {
      feed.begin();
      reader.pos = feed.pos;
      reader.undecidedAt = -1;
      const row = reader.row();
      if (row === null) {
        feed.skip(reader.pos);
        return;
      }
      this.cut(feed, row);
      feed.commit(reader.pos);
    }
  }

  private cut(feed: Feed, row: string[]): void {
    const header = this.#header;
    if (header === null) {
      this.#header = row;
      this.#columns = releasedColumns(this.plan, row);
      if (this.#columns.length > 0) {
        feed.out.push(`${line(this.#columns.map((c) => quote(row[c.index] as string)))}\r\n`);
      }
      return;
    }
    const r = ++this.#rows;
    if (row.length !== header.length) {
      const what = `row ${r} has ${row.length} cells, not ${header.length}`;
      throw uninspectable("parse_error", `invalid CSV at offset 0: ${what}`);
    }
    if (this.#columns.length === 0) return;
    feed.out.push(
      `${line(this.#columns.map((c) => cell(this.plan, c, row[c.index] as string)))}\r\n`,
    );
    feed.records++;
  }

  close(): void {
    if (this.#header === null) {
      throw uninspectable("parse_error", "invalid CSV at offset 0: a header line is required");
    }
  }
}
