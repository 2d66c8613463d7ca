/** Whether a finance read asked for CSV (and not JSON). */
export const wantsCsv = (accept: string | undefined): boolean =>
  accept !== undefined &&
  /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept) &&
  !/application\/json/i.test(accept);
