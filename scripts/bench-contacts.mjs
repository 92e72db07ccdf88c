// Contact sync: N contacts (5,000) each way between the fake Aircall and the fake HubSpot.
// Reports the time until all arrived and the requests used per contact on each side. The
// fakes run at raised limits (Aircall 6,000/min) so that the connector, not the limit, is
// measured; the time Aircall's real 60/min would impose is printed beside it.
// Run alone with `node scripts/bench-contacts.mjs`.
import { performance } from "node:perf_hooks";
import { startConnector, waitFor } from "../tests/e2e/harness.mjs";
import { FakeAircall } from "../tests/fakes/aircall.mjs";
import { FakeHubSpot } from "../tests/fakes/hubspot.mjs";

const TOKEN = "pat-bench";
const RATE = 6000;

async function side(connector, aircall, hubspot, key, direction, seed, arrived, duplicates) {
  const created = await connector.api("POST", "/api/integrations", {
    name: `bench ${direction}`,
    aircall: key,
    destination: { type: "hubspot", access_token: TOKEN },
    events: ["contact.created", "contact.updated", "contact.deleted"],
    contact_sync: { direction, phone: { default_country: "FR" } },
  });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
  const n = seed();
  const aircallBefore = aircall.requests.length;
  const hubspotBefore = hubspot.requests.length;
  const start = performance.now();
  const r = await connector.api("POST", `/api/integrations/${created.json.id}/contacts/sync`);
  if (r.status !== 202) throw new Error(`sync answered ${r.status}: ${r.text}`);
  await waitFor(() => arrived() >= n, { timeout: 600_000, interval: 500, what: `${n} contacts ${direction}` });
  const seconds = (performance.now() - start) / 1000;
  const aircallRequests = aircall.requests.length - aircallBefore;
  const hubspotRequests = hubspot.requests.length - hubspotBefore;
  return {
    contacts: n,
    seconds: +seconds.toFixed(1),
    contacts_per_second: Math.round(n / seconds),
    aircall_requests: aircallRequests,
    hubspot_requests: hubspotRequests,
    aircall_requests_per_contact: +(aircallRequests / n).toFixed(2),
    hubspot_requests_per_contact: +(hubspotRequests / n).toFixed(3),
    minutes_at_60_per_minute: Math.ceil(aircallRequests / 60),
    // Contacts the destination holds more than once (by e-mail): the goal is none.
    duplicates: duplicates(),
  };
}

export async function benchContacts({ contacts = Number(process.env.BENCH_CONTACTS ?? 5000) } = {}) {
  const aircall = await new FakeAircall({ ratePerMinute: RATE }).start();
  const hubspot = await new FakeHubSpot({ tokens: [TOKEN], rateLimit: 100 }).start();
  const connector = await startConnector({
    vars: { AIRCALL_API_BASE: aircall.url, AIRCALL_REQUESTS_PER_MINUTE: String(RATE), HUBSPOT_API_BASE: hubspot.url },
  });
  try {
    // HubSpot -> Aircall first, while HubSpot holds only the seeded contacts.
    const toAircallKey = aircall.addKey("bench-to-aircall", "t2");
    const toAircall = await side(connector, aircall, hubspot, toAircallKey, "to_aircall", () => {
      // National French numbers: each is normalised to E.164 on its way.
      hubspot.seedContacts(contacts, (i) => ({
        email: `hubspot${i}@bench.test`, firstname: `HubSpot${i}`, lastname: "Contact",
        phone: `06 ${`1${String(i).padStart(7, "0")}`.replace(/(\d\d)(?=\d)/g, "$1 ")}`,
      }));
      return contacts;
    }, () => aircall.contactsOf(toAircallKey.api_id).length, () => {
      const emails = aircall.contactsOf(toAircallKey.api_id).map((c) => c.emails[0]?.value);
      return emails.length - new Set(emails).size;
    });
    const toHubspotKey = aircall.addKey("bench-to-hubspot", "t1");
    const already = hubspot.contacts.size;
    const toHubspot = await side(connector, aircall, hubspot, toHubspotKey, "to_hubspot", () => {
      // Numbers unlike the HubSpot contacts' above (06 1...): HubSpot finds a contact by a number
      // typed another way, so shared numbers would be matched and updated, not created.
      aircall.addContacts(toHubspotKey.api_id, Array.from({ length: contacts }, (_, i) => ({
        first_name: `Aircall${i}`, last_name: "Contact", company_name: "Bench",
        phone_numbers: [{ label: "work", value: `+3362${String(i).padStart(7, "0")}` }],
        emails: [{ label: "work", value: `aircall${i}@bench.test` }],
      })));
      return contacts;
    }, () => hubspot.contacts.size - already, () => {
      const emails = [...hubspot.contacts.values()].map((c) => c.properties.email);
      return emails.length - new Set(emails).size;
    });
    return { to_hubspot: toHubspot, to_aircall: toAircall, aircall_429: aircall.tooManyRequests, hubspot_429: hubspot.counters.tooManyRequests };
  } finally {
    await connector.dispose();
    await hubspot.close();
    await aircall.stop();
  }
}

export function describeContacts(r) {
  const line = (name, s) =>
    `${name} ${s.contacts} in ${s.seconds} s (${s.contacts_per_second}/s): ${s.aircall_requests_per_contact} Aircall and ${s.hubspot_requests_per_contact} HubSpot requests per contact (${s.minutes_at_60_per_minute} min at Aircall's 60/min), ${s.duplicates} duplicates`;
  return `contact sync        ${line("Aircall -> HubSpot", r.to_hubspot)}
                    ${line("HubSpot -> Aircall", r.to_aircall)}
                    429s: Aircall ${r.aircall_429}, HubSpot ${r.hubspot_429}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchContacts();
  console.log(describeContacts(r));
  console.log(JSON.stringify(r, null, 2));
}
