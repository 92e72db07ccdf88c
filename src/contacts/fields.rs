//! The standard contact fields of both apps, their types, the default mapping between them,
//! and which mappings the types allow. Aircall has no custom fields, so only these can be mapped.

/// What a field holds. `Text` is the only kind that takes any other kind (one way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Email,
    Phone,
    Enumeration,
    Number,
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Aircall's e-mails and phone numbers are lists; every HubSpot standard field is single.
    pub list: bool,
    /// HubSpot computes these itself: they can be read, never written.
    pub read_only: bool,
}

impl Field {
    /// The field's type in words, as used in error messages: "e-mail list", "phone number".
    pub fn type_name(&self) -> String {
        let kind = match (self.kind, self.list) {
            (Kind::Text, _) => "text",
            (Kind::Email, _) => "e-mail",
            (Kind::Phone, false) => "phone number",
            (Kind::Phone, true) => "phone",
            (Kind::Enumeration, _) => "enumeration",
            (Kind::Number, _) => "number",
            (Kind::Date, _) => "date",
        };
        if self.list {
            format!("{kind} list")
        } else {
            kind.to_string()
        }
    }
}

const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        list: false,
        read_only: false,
    }
}

const fn list(name: &'static str, kind: Kind) -> Field {
    Field {
        list: true,
        ..field(name, kind)
    }
}

const fn read_only(name: &'static str, kind: Kind) -> Field {
    Field {
        read_only: true,
        ..field(name, kind)
    }
}

/// Aircall's contact fields. `full_name` is virtual: first and last name joined, split back
/// when written (for a CRM that keeps one name field).
pub const AIRCALL: &[Field] = &[
    field("first_name", Kind::Text),
    field("last_name", Kind::Text),
    field("full_name", Kind::Text),
    field("company_name", Kind::Text),
    field("description", Kind::Text),
    field("information", Kind::Text),
    list("emails", Kind::Email),
    list("phone_numbers", Kind::Phone),
];

/// HubSpot's standard contact properties that make sense to map.
pub const HUBSPOT: &[Field] = &[
    field("firstname", Kind::Text),
    field("lastname", Kind::Text),
    field("salutation", Kind::Text),
    field("email", Kind::Email),
    field("phone", Kind::Phone),
    field("mobilephone", Kind::Phone),
    field("fax", Kind::Phone),
    field("hs_whatsapp_phone_number", Kind::Phone),
    field("company", Kind::Text),
    field("jobtitle", Kind::Text),
    field("industry", Kind::Text),
    field("website", Kind::Text),
    field("address", Kind::Text),
    field("city", Kind::Text),
    field("state", Kind::Text),
    field("zip", Kind::Text),
    field("country", Kind::Text),
    field("message", Kind::Text),
    field("lifecyclestage", Kind::Enumeration),
    field("hs_lead_status", Kind::Enumeration),
    field("numberofemployees", Kind::Number),
    field("annualrevenue", Kind::Number),
    read_only("createdate", Kind::Date),
    read_only("lastmodifieddate", Kind::Date),
];

pub fn aircall(name: &str) -> Option<&'static Field> {
    AIRCALL.iter().find(|f| f.name == name)
}

pub fn hubspot(name: &str) -> Option<&'static Field> {
    HUBSPOT.iter().find(|f| f.name == name)
}

/// The label an Aircall phone number gets when it comes from this HubSpot phone field, and the
/// words that, found in an Aircall label, tie the number to that field. `phone` is also the
/// catch-all: it takes a number whose label names none of the other phone fields.
pub fn phone_label(hubspot: &str) -> (&'static str, &'static [&'static str]) {
    match hubspot {
        "mobilephone" => ("Mobile", &["mobile", "cell"]),
        "fax" => ("Fax", &["fax"]),
        "hs_whatsapp_phone_number" => ("WhatsApp", &["whatsapp"]),
        _ => ("Work", &["work", "office", "main"]),
    }
}

/// Which directions the two fields' types allow: (Aircall -> HubSpot, HubSpot -> Aircall).
///
/// Same kind: both ways. Otherwise only towards a text field (anything can be written as
/// text, text cannot be read back as an e-mail, a date...). A list and a single field go
/// together: the first element (or the one the label picks) goes to the single field, and a
/// single value is added to (or updated in) the list. A read-only HubSpot field is never written.
pub fn allowed(a: &Field, h: &Field) -> (bool, bool) {
    let same = a.kind == h.kind;
    let to_hubspot = (same || h.kind == Kind::Text) && !h.read_only;
    let to_aircall = same || a.kind == Kind::Text;
    (to_hubspot, to_aircall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_read_well() {
        assert_eq!(aircall("emails").unwrap().type_name(), "e-mail list");
        assert_eq!(aircall("phone_numbers").unwrap().type_name(), "phone list");
        assert_eq!(hubspot("phone").unwrap().type_name(), "phone number");
        assert_eq!(
            hubspot("lifecyclestage").unwrap().type_name(),
            "enumeration"
        );
    }

    #[test]
    fn compatibility_follows_the_types() {
        let a = |n| aircall(n).unwrap();
        let h = |n| hubspot(n).unwrap();
        assert_eq!(allowed(a("first_name"), h("jobtitle")), (true, true));
        assert_eq!(allowed(a("emails"), h("email")), (true, true));
        assert_eq!(allowed(a("phone_numbers"), h("fax")), (true, true));
        assert_eq!(allowed(a("emails"), h("phone")), (false, false));
        assert_eq!(allowed(a("emails"), h("website")), (true, false));
        assert_eq!(
            allowed(a("information"), h("lifecyclestage")),
            (false, true)
        );
        assert_eq!(
            allowed(a("description"), h("numberofemployees")),
            (false, true)
        );
        assert_eq!(allowed(a("information"), h("createdate")), (false, true));
        assert_eq!(allowed(a("phone_numbers"), h("createdate")), (false, false));
    }
}
