/**
 * Object keys of a transfer, all under `transfers/<id>/` so that a
 * revocation deletes everything of a transfer by its prefix. Only a body is
 * ever named in a GET URL, and only once the transfer is ready; each run
 * stages and releases under keys of its own attempt, so a run that was taken
 * over cannot overwrite what the next one writes.
 */
export const transferPrefix = (id: string): string => `transfers/${id}/`;
export const stagingPrefix = (id: string): string => `transfers/${id}/staging-`;
export const stagingKey = (id: string, attempt: number): string => `${stagingPrefix(id)}${attempt}`;
/**
 * The cut body a run released: per attempt too, so that a run taken over
 * late cannot overwrite what the run that holds the transfer released (the
 * transfer names its body by the attempt it became ready under).
 */
export const bodyKey = (id: string, attempt: number): string => `transfers/${id}/body-${attempt}`;
export const uploadKey = (id: string): string => `transfers/${id}/upload`;
