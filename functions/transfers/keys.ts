/**
 * Object keys of a transfer, all under `transfers/<id>/` so that a
 * revocation deletes everything of a transfer by its prefix. Only `body` is
 * ever named in a GET URL, and only once the transfer is ready; each run
 * stages under a key of its own attempt, so a run that was taken over
 * cannot overwrite what the next one writes.
 */
export const transferPrefix = (id: string): string => `transfers/${id}/`;
export const stagingPrefix = (id: string): string => `transfers/${id}/staging-`;
export const stagingKey = (id: string, attempt: number): string => `${stagingPrefix(id)}${attempt}`;
export const bodyKey = (id: string): string => `transfers/${id}/body`;
export const uploadKey = (id: string): string => `transfers/${id}/upload`;
