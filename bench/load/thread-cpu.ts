/**
 * CPU time of this process's main thread (Linux /proc), apart from its
 * worker threads and from the time the thread waited for a core: on a
 * shared machine event-loop "active" time includes being descheduled.
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** Milliseconds of CPU the main thread has used, or undefined off Linux. */
export function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}
