//! Full names <-> first and last names, as PieSync did it: join going one way, split going
//! back, and never rewrite a name whose parts already join to the incoming full name.
//!
//! Splitting rule: the first word is the first name, every other word the last name
//! ("Jean Claude Van Damme" -> "Jean" / "Claude Van Damme"); a single word is a first name.
//! Words are kept in the order written: no guessing of family-name-first cultures (a Japanese
//! "山田 太郎" gives first "山田"), since that cannot be known from the text; `update_from_full`
//! keeps an existing split wherever it can, so a name an admin fixed by hand stays fixed.

/// Words of a name, split on any Unicode whitespace (including the ideographic space).
fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// `s` with surrounding whitespace trimmed and inner runs of whitespace made one space.
pub(crate) fn squeeze(s: &str) -> String {
    words(s).join(" ")
}

/// First and last name joined by one space; empty parts dropped, whitespace normalised.
pub fn join(first: &str, last: &str) -> String {
    let mut all = words(first);
    all.extend(words(last));
    all.join(" ")
}

/// A full name split into (first, last): the first word, then the rest.
pub fn split(full: &str) -> (String, String) {
    let all = words(full);
    match all.split_first() {
        None => (String::new(), String::new()),
        Some((first, rest)) => (first.to_string(), rest.join(" ")),
    }
}

/// The new (first, last) for an incoming full name, or None when nothing needs to change.
///
/// None when the current parts already join to the incoming name (no churn). Otherwise the
/// part that still matches is kept: an incoming name that still starts with the current first
/// name keeps it and takes the rest as last name ("Jean Claude" + "Van Damme" receiving
/// "Jean Claude Van Damme Jr" keeps "Jean Claude"); one that still ends with the current last
/// name keeps that. Only when neither matches is the name split afresh.
pub fn update_from_full(
    current_first: &str,
    current_last: &str,
    incoming_full: &str,
) -> Option<(String, String)> {
    let incoming = words(incoming_full);
    if incoming.join(" ") == join(current_first, current_last) {
        return None;
    }
    let first = words(current_first);
    let last = words(current_last);
    if !first.is_empty() && incoming.len() >= first.len() && incoming.starts_with(&first) {
        return Some((first.join(" "), incoming[first.len()..].join(" ")));
    }
    if !last.is_empty() && incoming.len() > last.len() && incoming.ends_with(&last) {
        let cut = incoming.len() - last.len();
        return Some((incoming[..cut].join(" "), last.join(" ")));
    }
    Some(split(incoming_full))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(first: &str, last: &str) -> (String, String) {
        (first.to_string(), last.to_string())
    }

    #[test]
    fn joins_trimmed_parts_with_one_space() {
        assert_eq!(join("Jean", "Dupont"), "Jean Dupont");
        assert_eq!(join("  Jean ", "  Dupont  "), "Jean Dupont");
        assert_eq!(join("Jean  Claude", "Van   Damme"), "Jean Claude Van Damme");
        assert_eq!(join("Madonna", ""), "Madonna");
        assert_eq!(join("", "Dupont"), "Dupont");
        assert_eq!(join(" ", "\t"), "");
        assert_eq!(join("José", "Muñoz"), "José Muñoz");
        assert_eq!(join("Ἀριστοτέλης", ""), "Ἀριστοτέλης");
    }

    #[test]
    fn splits_first_word_from_the_rest() {
        assert_eq!(split("Jean Dupont"), pair("Jean", "Dupont"));
        assert_eq!(
            split("Jean Claude Van Damme"),
            pair("Jean", "Claude Van Damme")
        );
        assert_eq!(split("  Jean   Dupont  "), pair("Jean", "Dupont"));
        assert_eq!(split("Madonna"), pair("Madonna", ""));
        assert_eq!(split(""), pair("", ""));
        assert_eq!(split("   "), pair("", ""));
        assert_eq!(
            split("Gabriel García Márquez"),
            pair("Gabriel", "García Márquez")
        );
        assert_eq!(
            split("Ludwig van Beethoven"),
            pair("Ludwig", "van Beethoven")
        );
        assert_eq!(split("Анна Каренина"), pair("Анна", "Каренина"));
        assert_eq!(split("محمد بن سلمان"), pair("محمد", "بن سلمان"));
        assert_eq!(split("山田\u{3000}太郎"), pair("山田", "太郎")); // ideographic space
        assert_eq!(split("毛泽东"), pair("毛泽东", ""));
        assert_eq!(split("Nguyễn Văn An"), pair("Nguyễn", "Văn An"));
    }

    #[test]
    fn split_then_join_gives_the_normalised_name_back() {
        for name in [
            "Jean Claude Van Damme",
            " Anna  Karenina ",
            "Björk",
            "",
            "李 小龍",
        ] {
            let (first, last) = split(name);
            assert_eq!(join(&first, &last), squeeze(name));
        }
    }

    #[test]
    fn never_churns_a_name_that_already_matches() {
        assert_eq!(update_from_full("Jean", "Dupont", "Jean Dupont"), None);
        assert_eq!(
            update_from_full("Jean Claude", "Van Damme", "Jean Claude Van Damme"),
            None
        );
        assert_eq!(
            update_from_full(" Jean ", "Dupont", "  Jean  Dupont "),
            None
        );
        assert_eq!(update_from_full("", "", ""), None);
        assert_eq!(update_from_full("Madonna", "", "Madonna"), None);
    }

    #[test]
    fn keeps_the_part_that_still_matches() {
        assert_eq!(
            update_from_full("Jean Claude", "Van Damme", "Jean Claude Van Damme Jr"),
            Some(pair("Jean Claude", "Van Damme Jr"))
        );
        assert_eq!(
            update_from_full("Jean Claude", "Van Damme", "JC Van Damme"),
            Some(pair("JC", "Van Damme"))
        );
        assert_eq!(update_from_full("Ann", "Lee", "Ann"), Some(pair("Ann", "")));
        assert_eq!(
            update_from_full("María José", "", "María José Carreño Quiñones"),
            Some(pair("María José", "Carreño Quiñones"))
        );
    }

    #[test]
    fn splits_afresh_when_nothing_matches() {
        assert_eq!(
            update_from_full("Jean", "Dupont", "Marie Curie"),
            Some(pair("Marie", "Curie"))
        );
        assert_eq!(
            update_from_full("", "", "Jean Dupont"),
            Some(pair("Jean", "Dupont"))
        );
        // A last-name match needs at least one word left for the first name.
        assert_eq!(
            update_from_full("Jean", "Dupont", "Dupont"),
            Some(pair("Dupont", ""))
        );
        assert_eq!(update_from_full("Jean", "Dupont", ""), Some(pair("", "")));
    }
}
