//! How much of a queue batch one consumer invocation takes on. The free plan allows 50
//! subrequests per invocation; a queue batch of up to 100 messages is worth it for Segment
//! (one request carries a batch's events) but 100 call imports would need 600. So each
//! message is priced in outside requests, and what does not fit in [`BUDGET`] is put back on
//! the queue in one `send_batch` (not retried: that would count against `max_retries`).

/// Outside requests an invocation allows itself (50 on the free plan, 2 kept spare).
pub const BUDGET: u32 = 48;

/// A message's price in outside requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// A known number: a delivery its destination's requests (a webhook 1, HubSpot 3), a
    /// call import 6, an import step 10, a dead letter 0.
    Fixed(u32),
    /// A delivery to a batching destination (Segment): its share of the group's requests
    /// (the first, and one more per [`SEGMENT_REQUEST_SHARE`] bytes), plus a read of the
    /// call when its payload is minimal.
    Batched {
        group: usize,
        bytes: usize,
        reads_call: bool,
    },
}

/// Bytes of payload counted as one more `/v1/batch` request (Segment takes 500 KB).
pub const SEGMENT_REQUEST_SHARE: usize = 400_000;

/// Which messages to handle now (`true`); the rest wait for another invocation. Greedy in
/// order; the first message is always taken so that every batch makes progress.
pub fn plan(costs: &[Cost], budget: u32) -> Vec<bool> {
    let mut spent = 0u32;
    let mut groups: std::collections::HashMap<usize, usize> = Default::default();
    costs
        .iter()
        .enumerate()
        .map(|(index, cost)| {
            let price = match cost {
                Cost::Fixed(n) => *n,
                Cost::Batched {
                    group,
                    bytes,
                    reads_call,
                } => {
                    let before = groups.get(group).copied();
                    let after = before.unwrap_or(0) + bytes;
                    let requests = match before {
                        None => 1,
                        Some(b) => {
                            (after / SEGMENT_REQUEST_SHARE - b / SEGMENT_REQUEST_SHARE) as u32
                        }
                    };
                    requests + u32::from(*reads_call)
                }
            };
            let take = index == 0 || spent + price <= budget;
            if take {
                spent += price;
                if let Cost::Batched { group, bytes, .. } = cost {
                    *groups.entry(*group).or_default() += bytes;
                }
            }
            take
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_complete_segment_events_fit_in_one_request() {
        let costs = vec![
            Cost::Batched {
                group: 0,
                bytes: 2_000,
                reads_call: false
            };
            100
        ];
        assert!(plan(&costs, BUDGET).iter().all(|now| *now));
    }

    #[test]
    fn imports_beyond_the_budget_wait() {
        let costs = vec![Cost::Fixed(6); 20];
        let now = plan(&costs, BUDGET);
        assert_eq!(now.iter().filter(|n| **n).count(), 8);
        // Cheaper messages behind them still go.
        let mut mixed = vec![Cost::Fixed(6); 8];
        mixed.push(Cost::Fixed(6));
        mixed.push(Cost::Fixed(0));
        let now = plan(&mixed, BUDGET);
        assert_eq!(now, [vec![true; 8], vec![false, true]].concat());
    }

    #[test]
    fn minimal_calls_cost_a_read_each_and_big_payloads_more_requests() {
        let costs = vec![
            Cost::Batched {
                group: 0,
                bytes: 1_000,
                reads_call: true
            };
            100
        ];
        // 1 request + 47 reads.
        assert_eq!(plan(&costs, BUDGET).iter().filter(|n| **n).count(), 47);
        let big = vec![
            Cost::Batched {
                group: 0,
                bytes: 100_000,
                reads_call: false
            };
            100
        ];
        // 100 KB each: one more request every 4 deliveries, 26 in all.
        assert!(plan(&big, BUDGET).iter().all(|now| *now));
        assert_eq!(plan(&[Cost::Fixed(60)], BUDGET), vec![true], "progress");
    }
}
