//! Phone numbers to E.164, the only format Aircall accepts.
//!
//! With normalisation on (the default), a number is parsed with libphonenumber's metadata
//! (the `rlibphonenumber` port, regex-lite build: small and cheap to start in the wasm), the
//! integration's default country standing for numbers written without a country code, and
//! only a number valid in its country's numbering plan is accepted.
//!
//! With normalisation off (PieSync's "disabled" option), no numbering plan is consulted:
//! spaces, dashes, dots, slashes and brackets are dropped, a number starting with `+` is kept
//! as it is, and any other number gets the default country's calling code put in front of all
//! its digits, blindly (PieSync put +1 in front, which is what the default country US does):
//! "0612345678" becomes "+10612345678". Only what cannot be a number is refused: no digits,
//! letters, or more than 15 digits.

use rlibphonenumber::{PhoneNumberFormat, Region, PHONE_NUMBER_UTIL};
use serde::{Deserialize, Serialize};

/// How an integration reads phone numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSettings {
    /// Numbers go to Aircall in E.164 read with `default_country`; off, they get the default
    /// country's calling code put in front blindly (see `phone`).
    #[serde(default = "yes")]
    pub normalize: bool,
    /// ISO 3166 alpha-2 code of the country of numbers written without a country code.
    #[serde(default = "us")]
    pub default_country: String,
}

fn yes() -> bool {
    true
}

fn us() -> String {
    "US".into()
}

impl Default for PhoneSettings {
    fn default() -> Self {
        PhoneSettings {
            normalize: true,
            default_country: us(),
        }
    }
}

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    Letters,
    Extension,
    TooShort,
    TooLong,
    NotANumber,
    UnknownCallingCode,
    NotInNumberingPlan,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Empty => "it is empty",
            Reason::Letters => "it contains letters",
            Reason::Extension => "it has an extension, which E.164 cannot carry",
            Reason::TooShort => "too short",
            Reason::TooLong => "too long",
            Reason::NotANumber => "not a phone number",
            Reason::UnknownCallingCode => "unknown country calling code",
            Reason::NotInNumberingPlan => "no such number in the country's numbering plan",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhoneError {
    /// `country` is the default country the number was read with.
    #[error("\"{input}\" is not a valid number for {country}: {reason}")]
    Invalid {
        input: String,
        country: String,
        reason: Reason,
    },
    #[error("\"{0}\" is not a known country (an ISO 3166 alpha-2 code such as US, FR or GB)")]
    UnknownCountry(String),
}

/// The libphonenumber region of an ISO 3166 alpha-2 code, if it has a numbering plan.
pub(crate) fn region(code: &str) -> Option<Region> {
    let region = Region::from_code(code).ok()?;
    PHONE_NUMBER_UTIL.get_country_code_for_region(region)?;
    Some(region)
}

/// `input` in E.164 ("+33612345678"), read with the settings' default country.
pub fn to_e164(input: &str, settings: &PhoneSettings) -> Result<String, PhoneError> {
    let country = settings.default_country.trim().to_ascii_uppercase();
    let region = region(&country).ok_or_else(|| PhoneError::UnknownCountry(country.clone()))?;
    let refuse = |reason| PhoneError::Invalid {
        input: input.to_string(),
        country: country.clone(),
        reason,
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(refuse(Reason::Empty));
    }
    if !settings.normalize {
        return blind(trimmed, region).map_err(refuse);
    }
    let number = PHONE_NUMBER_UTIL
        .parse(trimmed, Some(region))
        .map_err(|e| {
            refuse(match e {
                rlibphonenumber::ParseError::InvalidCountryCode => Reason::UnknownCallingCode,
                rlibphonenumber::ParseError::TooShortAfterIdd
                | rlibphonenumber::ParseError::TooShortNsn => Reason::TooShort,
                rlibphonenumber::ParseError::TooLongNsn => Reason::TooLong,
                rlibphonenumber::ParseError::NotANumber(_) if has_letters(trimmed) => {
                    Reason::Letters
                }
                rlibphonenumber::ParseError::NotANumber(_) => Reason::NotANumber,
            })
        })?;
    if number.extension.as_deref().is_some_and(|e| !e.is_empty()) {
        return Err(refuse(Reason::Extension));
    }
    // libphonenumber reads vanity numbers ("1-800-FLOWERS") as digits; a CRM field with
    // letters in it is far more often a typo or a note, so it is refused rather than guessed.
    if has_letters(trimmed) {
        return Err(refuse(Reason::Letters));
    }
    if !number.is_valid() {
        use rlibphonenumber::ValidationError as V;
        return Err(refuse(match number.is_possible_with_reason() {
            Err(V::TooShort) => Reason::TooShort,
            Err(V::TooLong) => Reason::TooLong,
            Err(V::InvalidCountryCode) => Reason::UnknownCallingCode,
            _ => Reason::NotInNumberingPlan,
        }));
    }
    Ok(number.format_as(PhoneNumberFormat::E164).into_owned())
}

/// Whether two numbers are the same once normalised. A number that cannot be normalised is
/// compared by its digits (and leading `+`), so that two identical broken numbers still match.
pub fn same_number(a: &str, b: &str, settings: &PhoneSettings) -> bool {
    canonical(a, settings) == canonical(b, settings)
}

/// The form numbers are compared and fingerprinted in: E.164 when possible, else the digits.
///
/// A number already written in strict E.164 is its own canonical form either way (valid, it
/// formats to itself; invalid, its digits are itself), so it is returned without consulting
/// libphonenumber: Aircall's numbers are all E.164, and fingerprinting them then never pays
/// the metadata's cold start (milliseconds, see `cpu`).
pub(crate) fn canonical(input: &str, settings: &PhoneSettings) -> String {
    let trimmed = input.trim();
    if is_strict_e164(trimmed) {
        return trimmed.to_string();
    }
    to_e164(input, settings).unwrap_or_else(|_| {
        let trimmed = input.trim();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if trimmed.starts_with('+') {
            format!("+{digits}")
        } else {
            digits
        }
    })
}

/// The ways people commonly type `number` into a CRM that keeps phone numbers as typed
/// (HubSpot): as given, E.164, international and national formats, and the national digits
/// grouped by spaces, dashes or dots (`+14155550100` -> `(415) 555-0100`, `415-555-0100`...;
/// `+33612345678` -> `06 12 34 56 78`, `0612345678`...). A number libphonenumber cannot read
/// (no `+`) is looked up as given and as its digits. At most [`TYPED_FORMS_MAX`], no repeats.
pub fn typed_forms(number: &str) -> Vec<String> {
    let given = number.trim();
    let digits: String = given.chars().filter(char::is_ascii_digit).collect();
    let mut forms = vec![given.to_string(), digits];
    if let Ok(parsed) = PHONE_NUMBER_UTIL.parse(given, None) {
        let national = parsed.format_as(PhoneNumberFormat::National).into_owned();
        let international = parsed
            .format_as(PhoneNumberFormat::International)
            .into_owned();
        let groups: Vec<&str> = national
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .collect();
        forms.push(parsed.format_as(PhoneNumberFormat::E164).into_owned());
        forms.push(international.clone());
        forms.push(international.replace(' ', "-"));
        forms.push(national.clone());
        forms.push(groups.concat());
        for separator in [" ", "-", "."] {
            forms.push(groups.join(separator));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    forms.retain(|f| !f.is_empty() && seen.insert(f.clone()));
    forms.truncate(TYPED_FORMS_MAX);
    forms
}

/// Most forms [`typed_forms`] answers (a search filter's values are shared between numbers).
pub const TYPED_FORMS_MAX: usize = 10;

/// "+" then 1 to 15 digits, the first not 0: nothing to normalise.
fn is_strict_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (1..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn has_letters(s: &str) -> bool {
    s.chars().any(char::is_alphabetic)
}

/// Normalisation off: formatting dropped, the default calling code put in front of a number
/// that has no `+`. See the module documentation.
fn blind(input: &str, region: Region) -> Result<String, Reason> {
    if has_letters(input) {
        return Err(Reason::Letters);
    }
    let international = input.starts_with('+');
    let body = if international { &input[1..] } else { input };
    let mut digits = String::new();
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' => {}
            _ => return Err(Reason::NotANumber),
        }
    }
    if digits.is_empty() {
        return Err(Reason::NotANumber);
    }
    if !international {
        let code = PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .expect("the region was checked to have a calling code");
        digits = format!("{code}{digits}");
    }
    if digits.len() > 15 {
        return Err(Reason::TooLong);
    }
    Ok(format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> PhoneSettings {
        PhoneSettings {
            normalize: true,
            default_country: code.into(),
        }
    }

    fn reason(input: &str, settings: &PhoneSettings) -> Reason {
        match to_e164(input, settings) {
            Err(PhoneError::Invalid { reason, .. }) => reason,
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn normalises_national_and_international_formats_of_many_countries() {
        let vectors = [
            // (default country, input, E.164)
            ("US", "(415) 555-2671", "+14155552671"),
            ("US", "415.555.2671", "+14155552671"),
            ("US", "1 415 555 2671", "+14155552671"),
            ("US", "+1 415-555-2671", "+14155552671"),
            ("CA", "(604) 555-0123", "+16045550123"),
            ("US", "+1 604 555 0123", "+16045550123"),
            ("FR", "0612345678", "+33612345678"),
            ("FR", "06 12 34 56 78", "+33612345678"),
            ("US", "+33 6 12 34 56 78", "+33612345678"),
            ("DE", "0033 6 12 34 56 78", "+33612345678"),
            ("US", "011 33 6 12 34 56 78", "+33612345678"),
            ("GB", "020 7946 0958", "+442079460958"),
            ("GB", "07911 123456", "+447911123456"),
            ("FR", "00 44 20 7946 0958", "+442079460958"),
            ("US", "+44 (0)20 7946 0958", "+442079460958"),
            ("DE", "030 123456", "+4930123456"),
            ("US", "+49 30 123456", "+4930123456"),
            ("DE", "0151 23456789", "+4915123456789"),
            ("ES", "912 34 56 78", "+34912345678"),
            ("US", "+34 612 34 56 78", "+34612345678"),
            ("BR", "(11) 91234-5678", "+5511912345678"),
            ("US", "+55 11 91234 5678", "+5511912345678"),
            ("IN", "098765 43210", "+919876543210"),
            ("US", "+91 98765 43210", "+919876543210"),
            ("AU", "(02) 9876 5432", "+61298765432"),
            ("AU", "0412 345 678", "+61412345678"),
            ("US", "+61 412 345 678", "+61412345678"),
            ("JP", "03-1234-5678", "+81312345678"),
            ("JP", "090-1234-5678", "+819012345678"),
            ("US", "+81 90 1234 5678", "+819012345678"),
            ("US", "  +14155552671  ", "+14155552671"),
        ];
        for (default, input, expected) in vectors {
            assert_eq!(
                to_e164(input, &country(default)).as_deref(),
                Ok(expected),
                "{input} with {default}"
            );
        }
    }

    #[test]
    fn the_default_country_decides_national_numbers() {
        // The same digits are a Paris number in France and not a number at all in the US.
        assert_eq!(
            to_e164("01 42 68 53 00", &country("FR")).unwrap(),
            "+33142685300"
        );
        assert!(to_e164("01 42 68 53 00", &country("US")).is_err());
        // Lower case is accepted.
        assert_eq!(
            to_e164("0612345678", &country("fr")).unwrap(),
            "+33612345678"
        );
        // An international number ignores the default country.
        assert_eq!(
            to_e164("+33612345678", &country("JP")).unwrap(),
            "+33612345678"
        );
        assert_eq!(PhoneSettings::default().default_country, "US");
        assert_eq!(
            to_e164("415 555 2671", &PhoneSettings::default()).unwrap(),
            "+14155552671"
        );
    }

    #[test]
    fn refuses_what_is_not_a_valid_number() {
        let us = country("US");
        assert_eq!(reason("", &us), Reason::Empty);
        assert_eq!(reason("   ", &us), Reason::Empty);
        assert_eq!(reason("12", &us), Reason::TooShort);
        assert_eq!(reason("+1 415 555 26712345", &us), Reason::TooLong);
        assert_eq!(reason("call me", &us), Reason::Letters);
        assert_eq!(reason("1-800-FLOWERS", &us), Reason::Letters);
        assert_eq!(reason("415 555 2671 ext. 12", &us), Reason::Extension);
        assert_eq!(reason("+1 415 555 2671 x12", &us), Reason::Extension);
        assert_eq!(reason("+999 123 456 789", &us), Reason::UnknownCallingCode);
        assert_eq!(reason("(123) 456-7890", &us), Reason::NotInNumberingPlan);
        assert_eq!(reason("06 12 34 56", &country("FR")), Reason::TooShort);
        assert_eq!(reason("---", &us), Reason::NotANumber);
    }

    #[test]
    fn error_messages_name_the_input_and_the_country() {
        let e = to_e164("12", &country("US")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"12\" is not a valid number for US: too short"
        );
        let e = to_e164("0612345678", &country("XX")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"XX\" is not a known country (an ISO 3166 alpha-2 code such as US, FR or GB)"
        );
    }

    #[test]
    fn without_normalisation_numbers_get_the_calling_code_blindly() {
        let off = |c: &str| PhoneSettings {
            normalize: false,
            default_country: c.into(),
        };
        assert_eq!(to_e164("+33612345678", &off("US")).unwrap(), "+33612345678");
        assert_eq!(
            to_e164("+33 6 12 34 56 78", &off("US")).unwrap(),
            "+33612345678"
        );
        assert_eq!(
            to_e164("(415) 555-2671", &off("US")).unwrap(),
            "+14155552671"
        );
        // PieSync's warning: a national number from elsewhere gets +1 as it is.
        assert_eq!(to_e164("0612345678", &off("US")).unwrap(), "+10612345678");
        assert_eq!(to_e164("0612345678", &off("FR")).unwrap(), "+330612345678");
        assert_eq!(to_e164("12", &off("US")).unwrap(), "+112");
        let refused = |input: &str| match to_e164(input, &off("US")) {
            Err(PhoneError::Invalid { reason, .. }) => reason,
            other => panic!("{input:?} gave {other:?}"),
        };
        assert_eq!(refused("call me"), Reason::Letters);
        assert_eq!(refused("+1234567890123456"), Reason::TooLong);
        assert_eq!(refused("415#555"), Reason::NotANumber);
        assert_eq!(refused("+"), Reason::NotANumber);
    }

    #[test]
    fn same_number_compares_normalised_forms() {
        let fr = country("FR");
        assert!(same_number("06 12 34 56 78", "+33612345678", &fr));
        assert!(same_number("0033612345678", "+33 6 12 34 56 78", &fr));
        assert!(!same_number("0612345678", "0612345679", &fr));
        // Strict E.164 compares as it is, valid or not, like its normalised form would.
        for n in ["+33612345678", "+14155552671", "+999123", "+1"] {
            assert_eq!(
                canonical(n, &fr),
                to_e164(n, &fr).unwrap_or_else(|_| n.to_string())
            );
        }
        assert!(!is_strict_e164("+033612345678") && !is_strict_e164("33612345678"));
        assert!(!is_strict_e164("+1234567890123456") && !is_strict_e164("+"));
        // Broken numbers still compare by digits.
        assert!(same_number("12-34", "1234", &fr));
        assert!(!same_number("12", "+12", &fr));
    }

    #[test]
    fn typed_forms_cover_what_people_type() {
        let us = typed_forms("+14155550100");
        for typed in [
            "(415) 555-0100",
            "415-555-0100",
            "4155550100",
            "+1 415-555-0100",
        ] {
            assert!(us.contains(&typed.to_string()), "{typed} in {us:?}");
        }
        let fr = typed_forms("+33 6 12 34 56 78");
        for typed in [
            "06 12 34 56 78",
            "0612345678",
            "+33612345678",
            "06.12.34.56.78",
        ] {
            assert!(fr.contains(&typed.to_string()), "{typed} in {fr:?}");
        }
        assert!(fr.len() <= TYPED_FORMS_MAX && us.len() <= TYPED_FORMS_MAX);
        assert_eq!(typed_forms("0612"), vec!["0612".to_string()]);
    }
}
