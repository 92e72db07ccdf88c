//! The requests that turn an existing Aircall contact's phone numbers or e-mails into the
//! wanted list. Aircall's plain update ignores these lists: each entry is added (at the end),
//! replaced in place or deleted through its own endpoint (`phone_details`, `email_details`).
//!
//! The order matters: the first e-mail, and the first number with a field's label, are what
//! goes back to the CRM. So the wanted list is reached position by position: an entry that
//! differs is replaced in place, the wanted tail is added, a tail no longer wanted is deleted.
//! Inserting one number in front of a single one costs two requests (replace it, add it back
//! after), the least any plan can do without a way to reorder.

use super::model::Labeled;

/// One of the two lists an Aircall contact keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailList {
    PhoneNumbers,
    Emails,
}

/// One request on one entry of a list.
#[derive(Debug, Clone, PartialEq)]
pub enum DetailChange {
    /// `POST .../{list}_details` (appended at the end).
    Add(DetailList, Labeled),
    /// `PUT .../{list}_details/{id}` (in place).
    Replace(DetailList, i64, Labeled),
    /// `DELETE .../{list}_details/{id}`.
    Delete(DetailList, i64),
}

/// Why the lists cannot be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Aircall answered a {0:?} entry without an id: it cannot be changed")]
pub struct MissingId(pub DetailList);

/// The changes that make `current` (as Aircall answered it, with ids) read as `wanted`.
/// Additions come first, then replacements from the last place to the first: a value
/// inserted shifts the others one place down, each copied to its new place before its old
/// one is overwritten. So should a request fail midway, no value has gone missing, and the
/// retry, planned again from what Aircall then holds, drops the duplicates it left.
pub fn plan(
    list: DetailList,
    current: &[Labeled],
    wanted: &[Labeled],
) -> Result<Vec<DetailChange>, MissingId> {
    let wanted = without_duplicates(list, wanted);
    let same = |a: &Labeled, b: &Labeled| a.label == b.label && a.value == b.value;
    let id = |entry: &Labeled| entry.id.ok_or(MissingId(list));
    let mut adds = Vec::new();
    let mut replaces = Vec::new();
    let mut deletes = Vec::new();
    for i in 0..current.len().max(wanted.len()) {
        match (current.get(i), wanted.get(i)) {
            (Some(have), Some(want)) if !same(have, want) => {
                replaces.push(DetailChange::Replace(list, id(have)?, bare(want)));
            }
            (None, Some(want)) => adds.push(DetailChange::Add(list, bare(want))),
            (Some(have), None) => deletes.push(DetailChange::Delete(list, id(have)?)),
            _ => {}
        }
    }
    Ok(adds
        .into_iter()
        .chain(replaces.into_iter().rev())
        .chain(deletes)
        .collect())
}

/// What a list holds after one change, by Aircall's rules (added at the end, replaced in
/// place); an added entry has no id yet.
pub fn apply(list: &mut Vec<Labeled>, change: &DetailChange) {
    match change {
        DetailChange::Add(_, entry) => list.push(entry.clone()),
        DetailChange::Replace(_, id, entry) => {
            if let Some(at) = list.iter().position(|x| x.id == Some(*id)) {
                list[at] = Labeled {
                    id: Some(*id),
                    ..entry.clone()
                };
            }
        }
        DetailChange::Delete(_, id) => list.retain(|x| x.id != Some(*id)),
    }
}

/// The list with a value repeated only once (its first place): same e-mail ignoring case,
/// same number ignoring spaces. A repeat holds nothing the first does not.
fn without_duplicates(list: DetailList, entries: &[Labeled]) -> Vec<Labeled> {
    let key = |e: &Labeled| match list {
        DetailList::Emails => e.value.trim().to_lowercase(),
        DetailList::PhoneNumbers => e.value.chars().filter(|c| !c.is_whitespace()).collect(),
    };
    let mut seen = std::collections::BTreeSet::new();
    entries
        .iter()
        .filter(|e| seen.insert(key(e)))
        .cloned()
        .collect()
}

/// An entry as sent: its label and value (ids are Aircall's to give).
fn bare(entry: &Labeled) -> Labeled {
    Labeled::new(&entry.label, &entry.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DetailChange::*;
    use DetailList::*;

    fn with_id(id: i64, label: &str, value: &str) -> Labeled {
        Labeled {
            id: Some(id),
            ..Labeled::new(label, value)
        }
    }

    /// What Aircall holds after the changes: the proof that a plan reaches the wanted list.
    fn apply(current: &[Labeled], changes: &[DetailChange]) -> Vec<(String, String)> {
        let mut list = current.to_vec();
        for change in changes {
            super::apply(&mut list, change);
        }
        pairs(&list)
    }

    fn pairs(list: &[Labeled]) -> Vec<(String, String)> {
        list.iter()
            .map(|e| (e.label.clone(), e.value.clone()))
            .collect()
    }

    #[test]
    fn a_new_number_in_front_of_one_costs_a_replace_and_an_add() {
        let current = [with_id(1, "Work", "+33612345678")];
        let wanted = [Labeled::new("Work", "+33788776655"), current[0].clone()];
        let changes = plan(PhoneNumbers, &current, &wanted).unwrap();
        assert_eq!(
            changes,
            vec![
                Add(PhoneNumbers, Labeled::new("Work", "+33612345678")),
                Replace(PhoneNumbers, 1, Labeled::new("Work", "+33788776655")),
            ],
            "the old number is added back before its place is taken"
        );
        assert_eq!(apply(&current, &changes), pairs(&wanted));
    }

    #[test]
    fn every_plan_reaches_the_wanted_list() {
        let current = [
            with_id(1, "Home", "+33142685300"),
            with_id(2, "Mobile", "+33612345678"),
            with_id(3, "Work", "+14155552671"),
        ];
        let cases: Vec<Vec<Labeled>> = vec![
            current.to_vec(),
            vec![Labeled::new("Work", "+33700000000")],
            vec![
                current[0].clone(),
                Labeled::new("Mobile", "+33799999999"),
                current[1].clone(),
                current[2].clone(),
            ],
            vec![current[2].clone(), current[0].clone()],
        ];
        for wanted in cases {
            let changes = plan(PhoneNumbers, &current, &wanted).unwrap();
            assert_eq!(apply(&current, &changes), pairs(&wanted), "{changes:?}");
        }
        assert!(plan(PhoneNumbers, &current, &current).unwrap().is_empty());
    }

    #[test]
    fn no_value_is_missing_after_any_request_of_an_insertion() {
        let current = [
            with_id(1, "Work", "+33611111111"),
            with_id(2, "Work", "+33622222222"),
            with_id(3, "Work", "+33633333333"),
        ];
        let mut wanted = current.to_vec();
        wanted.insert(0, Labeled::new("Work", "+33700000000"));
        let changes = plan(PhoneNumbers, &current, &wanted).unwrap();
        for done in 0..=changes.len() {
            let held = apply(&current, &changes[..done]);
            for entry in &current {
                assert!(
                    held.contains(&(entry.label.clone(), entry.value.clone())),
                    "{held:?}"
                );
            }
        }
        assert_eq!(apply(&current, &changes), pairs(&wanted));
    }

    #[test]
    fn a_retry_after_a_partial_write_drops_the_duplicate_it_left() {
        // The add went through, the replace did not: Aircall holds the number twice.
        let current = [
            with_id(1, "Work", "+33612345678"),
            with_id(9, "Work", "+33612345678"),
        ];
        let wanted = [
            Labeled::new("Work", "+33788776655"),
            current[0].clone(),
            current[1].clone(),
        ];
        let changes = plan(PhoneNumbers, &current, &wanted).unwrap();
        assert_eq!(
            apply(&current, &changes),
            vec![
                ("Work".into(), "+33788776655".into()),
                ("Work".into(), "+33612345678".into())
            ]
        );
    }

    #[test]
    fn e_mails_repeat_ignoring_case_and_an_entry_without_id_is_an_error() {
        let current = [with_id(5, "", "Ann@Acme.test")];
        let wanted = [current[0].clone(), Labeled::new("Work", "ann@acme.test")];
        assert!(plan(Emails, &current, &wanted).unwrap().is_empty());
        let no_id = [Labeled::new("", "ann@acme.test")];
        let other = [Labeled::new("", "bob@acme.test")];
        assert_eq!(plan(Emails, &no_id, &other), Err(MissingId(Emails)));
    }
}
