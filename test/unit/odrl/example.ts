/** The agreement of the contract's example (shared/CONTRACT.md, "Agreement"). */
export const contractExample = {
  id: "agr-1",
  dataset: "vehicle-telemetry",
  provider: "fleetco",
  consumer: "insureco",
  actions: ["read"],
  fields: ["vin", "mileage", "speed.avg", "driver.name"],
  pseudonymize: ["driver.name"],
  purposes: ["insurance-pricing"],
  validFrom: "2026-01-01T00:00:00Z",
  validUntil: "2027-01-01T00:00:00Z",
  quota: { requestsPerDay: 10000, recordsPerMonth: 1000000 },
  price: { currency: "EUR", perRequest: 0, perRecord: 2000 },
  retentionDays: 30,
  valueShares: [
    { partner: "fleetco", bps: 8000 },
    { partner: "telematico", bps: 2000 },
  ],
};
