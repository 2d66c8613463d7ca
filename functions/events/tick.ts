/** The constant payload of the events function's minute tick (a schedule carries no data). */
export const TICK_SOURCE = "gateway.outbox-retry-tick";
