// Payloads shaped like Aircall's (fields from ../shared/reference/aircall-api.md).
export function call(id, overrides = {}) {
  const started = 1_763_980_000 + id;
  return {
    id,
    direct_link: `https://api.aircall.io/v1/calls/${id}`,
    started_at: started,
    answered_at: started + 6,
    ended_at: started + 186,
    duration: 186,
    status: "done",
    direction: "inbound",
    missed_call_reason: null,
    raw_digits: "+33 6 12 34 56 78",
    recording: `https://aircall-recordings.s3.amazonaws.com/${id}.mp3?X-Amz-Expires=3600`,
    voicemail: null,
    archived: false,
    asset: null,
    user: { id: 456, direct_link: "https://api.aircall.io/v1/users/456", name: "Madeline Agent", email: "madeline@example.com", available: true },
    number: { id: 789, direct_link: "https://api.aircall.io/v1/numbers/789", name: "Sales FR", digits: "+33 1 76 36 06 95", country: "FR", time_zone: "Europe/Paris", open: true },
    contact: { id: 321, first_name: "Jean", last_name: "Dupont", company_name: "ACME", phone_numbers: [{ id: 1, label: "work", value: "+33612345678" }], emails: [] },
    assigned_to: null,
    teams: [],
    comments: [],
    tags: [{ id: 11, name: "Lead" }],
    ...overrides,
  };
}

export const user = (id) => ({ id, direct_link: `https://api.aircall.io/v1/users/${id}`, name: "Madeline Agent", email: "madeline@example.com", available: true, availability_status: "available" });

// Shapes real Aircall payloads take (../shared/reference/aircall-api.md, "Learned from real
// payloads"): an inbound call nobody answered has no `user`; an unknown caller no `contact`.
export function missedCall(id, overrides = {}) {
  const { user, contact, ...rest } = call(id, {
    answered_at: null, duration: 25, missed_call_reason: "agents_did_not_answer", recording: null,
    raw_digits: "+44 330 818 6690",
  });
  return { ...rest, ...overrides };
}

// A voicemail left on an unanswered inbound call: `recording` null, the audio at `voicemail`.
export function voicemailCall(id, overrides = {}) {
  return missedCall(id, { missed_call_reason: null, voicemail: `https://aircall-voicemails.s3.amazonaws.com/${id}.mp3?X-Amz-Expires=600`, ...overrides });
}

// Aircall's own sample payloads: empty objects where a user, contact or number goes.
export function sampleCall(id, overrides = {}) {
  return call(id, { user: {}, contact: {}, number: {}, ...overrides });
}
