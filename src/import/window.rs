//! What to ask Aircall for: windows of `started_at`, the cursor a run leaves behind, and
//! splitting windows Aircall would refuse to page through.

use crate::aircall::Call;
pub use crate::aircall::Window;
use crate::calls::ImportRules;
use serde::{Deserialize, Serialize};

/// Where imports stand: every call that started before `started_at` has been handled, and
/// so have the calls at exactly `started_at` whose ids are listed. Several calls can share
/// a second, so the second alone would either skip or repeat some of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    pub started_at: i64,
    pub ids_at_started_at: Vec<i64>,
}

impl Cursor {
    pub fn already_handled(&self, call: &Call) -> bool {
        call.started_at < self.started_at
            || (call.started_at == self.started_at && self.ids_at_started_at.contains(&call.id))
    }

    /// Moves past `call`. Calls must come in ascending `started_at` order.
    pub fn advance(&mut self, call: &Call) {
        if call.started_at > self.started_at {
            self.started_at = call.started_at;
            self.ids_at_started_at = vec![call.id];
        } else if call.started_at == self.started_at && !self.ids_at_started_at.contains(&call.id) {
            self.ids_at_started_at.push(call.id);
        }
    }
}

/// What one run asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No cursor yet: the `limit` most recent calls of the window (asked newest first).
    First { window: Window, limit: u32 },
    /// Every call since the cursor, oldest first, skipping those it already handled.
    Since { window: Window },
}

pub fn plan(cursor: Option<&Cursor>, rules: &ImportRules, now: i64) -> Plan {
    let oldest = now - rules.window_seconds();
    match cursor {
        None => Plan::First {
            window: Window {
                from: oldest,
                to: now,
            },
            limit: rules.initial_limit,
        },
        // One second before the cursor, since `from` is exclusive and calls share seconds.
        Some(cursor) => Plan::Since {
            window: Window {
                from: (cursor.started_at - 1).max(oldest),
                to: now,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: i64, started_at: i64) -> Call {
        serde_json::from_value(serde_json::json!({"id": id, "started_at": started_at})).unwrap()
    }

    #[test]
    fn windows_follow_aircalls_bounds() {
        let w = Window { from: 10, to: 20 };
        assert!(!w.contains(10) && w.contains(11) && w.contains(20) && !w.contains(21));
        let parts = w.split(3);
        assert_eq!(
            parts,
            vec![
                Window { from: 10, to: 13 },
                Window { from: 13, to: 16 },
                Window { from: 16, to: 20 }
            ]
        );
        assert!(
            (11..=20).all(|t| parts.iter().filter(|p| p.contains(t)).count() == 1),
            "the parts cover each second once"
        );
        assert_eq!(
            Window { from: 10, to: 11 }.split(2),
            vec![Window { from: 10, to: 11 }]
        );
        assert_eq!(Window::parts_for(25_000, 10_000), 4);
    }

    #[test]
    fn first_import_looks_back_the_window_and_later_ones_from_the_cursor() {
        let rules = ImportRules::default();
        let now = 2_000_000_000;
        assert_eq!(
            plan(None, &rules, now),
            Plan::First {
                window: Window {
                    from: now - 14 * 86_400,
                    to: now
                },
                limit: 200
            }
        );
        let cursor = Cursor {
            started_at: now - 600,
            ids_at_started_at: vec![7],
        };
        assert_eq!(
            plan(Some(&cursor), &rules, now),
            Plan::Since {
                window: Window {
                    from: now - 601,
                    to: now
                }
            }
        );
        // A cursor older than the window does not reach past it.
        let stale = Cursor {
            started_at: now - 30 * 86_400,
            ids_at_started_at: vec![],
        };
        assert_eq!(
            plan(Some(&stale), &rules, now),
            Plan::Since {
                window: Window {
                    from: now - 14 * 86_400,
                    to: now
                }
            }
        );
    }

    #[test]
    fn calls_sharing_the_cursors_second_are_neither_skipped_nor_repeated() {
        // Run 1 saw calls 1 and 2 at second 100; call 3 at second 100 showed up afterwards.
        let mut cursor = Cursor::default();
        for c in [call(1, 99), call(2, 100), call(1, 99)] {
            if !cursor.already_handled(&c) {
                cursor.advance(&c);
            }
        }
        cursor.advance(&call(1, 100)); // a call id seen at the same second twice stays once
        assert_eq!(
            cursor,
            Cursor {
                started_at: 100,
                ids_at_started_at: vec![2, 1]
            }
        );
        let Plan::Since { window } = plan(Some(&cursor), &ImportRules::default(), 150) else {
            panic!()
        };
        let listed = [call(2, 100), call(3, 100), call(4, 101)];
        let imported: Vec<i64> = listed
            .iter()
            .filter(|c| window.contains(c.started_at) && !cursor.already_handled(c))
            .map(|c| c.id)
            .collect();
        assert_eq!(imported, vec![3, 4]);
    }

    /// Splits like the importer does, counting with `total_in`, and returns the windows
    /// that are paged through, in order.
    fn pageable_windows(window: Window, total_in: &dyn Fn(Window) -> u64) -> Vec<Window> {
        let mut out = Vec::new();
        let mut stack = vec![window];
        while let Some(w) = stack.pop() {
            let total = total_in(w);
            let parts = w.split(Window::parts_for(total, crate::config::AIRCALL_RESULT_CAP));
            if total <= crate::config::AIRCALL_RESULT_CAP || parts.len() == 1 {
                out.push(w);
            } else {
                stack.extend(parts.into_iter().rev());
            }
        }
        out
    }

    #[test]
    fn a_backlog_of_25000_calls_is_split_into_pageable_windows_without_gap_or_overlap() {
        // 25,000 calls over two days, bunched: 20,000 of them in one busy hour.
        let mut starts: Vec<i64> = (0..5_000).map(|i| 1_000_000 + i * 34).collect();
        starts.extend((0..20_000).map(|i| 1_100_000 + i / 6));
        let total_in = |w: Window| starts.iter().filter(|&&t| w.contains(t)).count() as u64;
        let whole = Window {
            from: 999_999,
            to: 1_172_800,
        };
        let windows = pageable_windows(whole, &total_in);
        assert!(windows
            .iter()
            .all(|w| total_in(*w) <= crate::config::AIRCALL_RESULT_CAP));
        assert_eq!(windows.first().unwrap().from, whole.from);
        assert_eq!(windows.last().unwrap().to, whole.to);
        assert!(
            windows.windows(2).all(|p| p[0].to == p[1].from),
            "contiguous, in order"
        );
        let covered: u64 = windows.iter().map(|w| total_in(*w)).sum();
        assert_eq!(covered, 25_000);
    }
}
