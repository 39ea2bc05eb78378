//! Password strength levels and options, evaluated as Auth0's `password-sheriff` does, and
//! rendered to the byte-exact error bodies Lock and auth0.js display.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `options.passwordPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLevel {
    None,
    Low,
    Fair,
    Good,
    Excellent,
}

/// A level plus the `password_complexity_options.min_length` override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub level: PolicyLevel,
    pub min_length: Option<u32>,
}

/// JavaScript's view of a string: UTF-16 code units.
fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// String length as JavaScript's `.length` counts it.
pub fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

const SPECIAL: &str = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn is_special(u: u16) -> bool {
    u < 128 && SPECIAL.as_bytes().contains(&(u as u8))
}

fn has(units: &[u16], f: impl Fn(u16) -> bool) -> bool {
    units.iter().any(|&u| f(u))
}

#[derive(Clone, Copy)]
enum Class {
    Lower,
    Upper,
    Number,
    Special,
}

impl Class {
    fn message(self) -> &'static str {
        match self {
            Class::Lower => "lower case letters (a-z)",
            Class::Upper => "upper case letters (A-Z)",
            Class::Number => "numbers (i.e. 0-9)",
            Class::Special => "special characters (e.g. !@#$%^&*)",
        }
    }
    fn code(self) -> &'static str {
        match self {
            Class::Lower => "lowerCase",
            Class::Upper => "upperCase",
            Class::Number => "numbers",
            Class::Special => "specialCharacters",
        }
    }
    fn present(self, units: &[u16]) -> bool {
        match self {
            Class::Lower => has(units, |u| (b'a' as u16..=b'z' as u16).contains(&u)),
            Class::Upper => has(units, |u| (b'A' as u16..=b'Z' as u16).contains(&u)),
            Class::Number => has(units, |u| (b'0' as u16..=b'9' as u16).contains(&u)),
            Class::Special => has(units, is_special),
        }
    }
}

/// One rule's outcome, kept as ordered JSON so the body is byte-exact.
struct RuleResult {
    json: Value,
    verified: bool,
    /// Lines of the human-readable `policy` text.
    text: Vec<String>,
}

fn items(classes: &[Class], units: &[u16]) -> (Vec<Value>, usize, Vec<String>) {
    let mut out = Vec::new();
    let mut n = 0;
    let mut text = Vec::new();
    for &c in classes {
        let ok = c.present(units);
        n += usize::from(ok);
        out.push(json!({"message": c.message(), "code": c.code(), "verified": ok}));
        text.push(format!(" * {}", c.message()));
    }
    (out, n, text)
}

fn length_rule(min: usize, units: &[u16]) -> RuleResult {
    let verified = units.len() >= min;
    if min <= 1 {
        RuleResult {
            json: json!({"message": "Non-empty password required", "code": "nonEmpty", "verified": verified}),
            verified,
            text: vec!["* Non-empty password required".into()],
        }
    } else {
        RuleResult {
            json: json!({"message": "At least %d characters in length", "format": [min], "code": "lengthAtLeast", "verified": verified}),
            verified,
            text: vec![format!("* At least {min} characters in length")],
        }
    }
}

fn contains_all(units: &[u16]) -> RuleResult {
    let classes = [Class::Lower, Class::Upper, Class::Number];
    let (items, n, mut text) = items(&classes, units);
    let verified = n == classes.len();
    text.insert(0, "* Should contain:".into());
    RuleResult {
        json: json!({"message": "Should contain:", "code": "shouldContain", "verified": verified, "items": items}),
        verified,
        text,
    }
}

fn contains_at_least(units: &[u16]) -> RuleResult {
    let classes = [Class::Lower, Class::Upper, Class::Number, Class::Special];
    let (items, n, mut text) = items(&classes, units);
    let verified = n >= 3;
    text.insert(
        0,
        "* Contain at least 3 of the following 4 types of characters:".into(),
    );
    RuleResult {
        json: json!({"message": "Contain at least %d of the following %d types of characters:", "code": "containsAtLeast", "format": [3, 4], "items": items, "verified": verified}),
        verified,
        text,
    }
}

fn identical_chars(units: &[u16]) -> RuleResult {
    let verified = !units.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    RuleResult {
        json: json!({"message": "No more than %d identical characters in a row (e.g., \"%s\" not allowed)", "code": "identicalChars", "format": [2, "aaa"], "verified": verified}),
        verified,
        text: vec![
            "* No more than 2 identical characters in a row (e.g., \"aaa\" not allowed)".into(),
        ],
    }
}

/// One rule of a password policy as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChecklistRule {
    pub text: String,
    pub verified: bool,
    pub items: Vec<(String, bool)>,
}

/// A failed strength check: the `description` object and the `policy` text of the error body.
#[derive(Debug, Clone, PartialEq)]
pub struct StrengthFailure {
    pub description: Value,
    pub policy: String,
}

impl Policy {
    fn rules(&self, password: &str) -> Vec<RuleResult> {
        let units = utf16(password);
        let base = match self.level {
            PolicyLevel::None => 1,
            PolicyLevel::Low => 6,
            PolicyLevel::Fair | PolicyLevel::Good => 8,
            PolicyLevel::Excellent => 10,
        };
        let min = self.min_length.map_or(base, |m| m as usize);
        let mut rules = vec![length_rule(min, &units)];
        match self.level {
            PolicyLevel::None | PolicyLevel::Low => {}
            PolicyLevel::Fair => rules.push(contains_all(&units)),
            PolicyLevel::Good => rules.push(contains_at_least(&units)),
            PolicyLevel::Excellent => {
                rules.push(contains_at_least(&units));
                rules.push(identical_chars(&units));
            }
        }
        rules
    }

    /// Evaluates the strength rules; `Err` carries the exact error description and policy text.
    pub fn check(&self, password: &str) -> Result<(), StrengthFailure> {
        let rules = self.rules(password);
        if rules.iter().all(|r| r.verified) {
            return Ok(());
        }
        let policy = rules
            .iter()
            .flat_map(|r| r.text.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
        let json_rules: Vec<Value> = rules.into_iter().map(|r| r.json).collect();
        Err(StrengthFailure {
            description: json!({"rules": json_rules, "verified": false}),
            policy,
        })
    }

    /// The rules as the hosted pages list them: each rule's text, whether `password` meets it,
    /// and its items (character classes) with the same.
    pub fn checklist(&self, password: &str) -> Vec<ChecklistRule> {
        self.rules(password)
            .into_iter()
            .map(|r| {
                let strip = |t: &str| t.trim_start().trim_start_matches("* ").to_owned();
                let verified_items = r.json.get("items").and_then(Value::as_array);
                ChecklistRule {
                    text: r.text.first().map(|t| strip(t)).unwrap_or_default(),
                    verified: r.verified,
                    items: r
                        .text
                        .iter()
                        .skip(1)
                        .enumerate()
                        .map(|(i, t)| {
                            let ok = verified_items
                                .and_then(|v| v.get(i))
                                .and_then(|v| v.get("verified"))
                                .and_then(Value::as_bool)
                                .unwrap_or(false);
                            (strip(t), ok)
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// The policy text alone (for hosted pages and docs).
    pub fn describe(&self) -> String {
        self.rules("")
            .iter()
            .flat_map(|r| r.text.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords-10k.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether the password is (case-insensitively) in the built-in list or the custom entries.
pub fn is_common(password: &str, custom: &[String]) -> bool {
    let lower = password.to_lowercase();
    COMMON.contains(lower.as_str()) || custom.iter().any(|c| c.to_lowercase() == lower)
}

/// Whether the password contains any of the user's personal values (values < 3 long ignored).
pub fn contains_personal_info<'a>(
    password: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> bool {
    let lower = password.to_lowercase();
    values
        .into_iter()
        .filter(|v| js_len(v) >= 3)
        .any(|v| lower.contains(&v.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(level: PolicyLevel) -> Policy {
        Policy {
            level,
            min_length: None,
        }
    }

    #[test]
    fn good_failure_is_byte_exact() {
        let err = p(PolicyLevel::Good).check("abcdefg!").unwrap_err();
        let body = serde_json::to_string(&err.description).unwrap();
        assert_eq!(
            body,
            r#"{"rules":[{"message":"At least %d characters in length","format":[8],"code":"lengthAtLeast","verified":true},{"message":"Contain at least %d of the following %d types of characters:","code":"containsAtLeast","format":[3,4],"items":[{"message":"lower case letters (a-z)","code":"lowerCase","verified":true},{"message":"upper case letters (A-Z)","code":"upperCase","verified":false},{"message":"numbers (i.e. 0-9)","code":"numbers","verified":false},{"message":"special characters (e.g. !@#$%^&*)","code":"specialCharacters","verified":true}],"verified":false}],"verified":false}"#
        );
        assert_eq!(
            err.policy,
            "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)"
        );
    }

    #[test]
    fn policy_texts_of_the_five_levels() {
        assert_eq!(
            p(PolicyLevel::None).describe(),
            "* Non-empty password required"
        );
        assert_eq!(
            p(PolicyLevel::Low).describe(),
            "* At least 6 characters in length"
        );
        assert_eq!(
            p(PolicyLevel::Fair).describe(),
            "* At least 8 characters in length\n* Should contain:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)"
        );
        let good = "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)";
        assert_eq!(p(PolicyLevel::Good).describe(), good);
        assert_eq!(
            p(PolicyLevel::Excellent).describe(),
            format!(
                "{}\n* No more than 2 identical characters in a row (e.g., \"aaa\" not allowed)",
                good.replace('8', "10")
            )
        );
    }

    #[test]
    fn none_and_low() {
        assert!(p(PolicyLevel::None).check("a").is_ok());
        let e = p(PolicyLevel::None).check("").unwrap_err();
        assert_eq!(
            serde_json::to_string(&e.description).unwrap(),
            r#"{"rules":[{"message":"Non-empty password required","code":"nonEmpty","verified":false}],"verified":false}"#
        );
        assert!(p(PolicyLevel::Low).check("abcdef").is_ok());
        assert!(p(PolicyLevel::Low).check("abcde").is_err());
    }

    #[test]
    fn fair_needs_all_three() {
        assert!(p(PolicyLevel::Fair).check("abcdEFG1").is_ok());
        let e = p(PolicyLevel::Fair).check("abcdEFG!").unwrap_err();
        assert_eq!(
            serde_json::to_string(&e.description["rules"][1]).unwrap(),
            r#"{"message":"Should contain:","code":"shouldContain","verified":false,"items":[{"message":"lower case letters (a-z)","code":"lowerCase","verified":true},{"message":"upper case letters (A-Z)","code":"upperCase","verified":true},{"message":"numbers (i.e. 0-9)","code":"numbers","verified":false}]}"#
        );
    }

    #[test]
    fn good_needs_three_of_four() {
        let g = p(PolicyLevel::Good);
        assert!(g.check("abcdEFG1").is_ok());
        assert!(g.check("abcdefg1!").is_ok());
        assert!(g.check("ABCDE1 ").is_err()); // 7 long
        assert!(g.check("ABCDEF1 x").is_ok()); // space is special
        assert!(g.check("abcdefgh").is_err());
    }

    #[test]
    fn excellent_rejects_three_identical_in_a_row() {
        let x = p(PolicyLevel::Excellent);
        assert!(x.check("aaBcdefg12").is_ok());
        let e = x.check("aaaBcdefg12").unwrap_err();
        assert_eq!(
            serde_json::to_string(&e.description["rules"][2]).unwrap(),
            r#"{"message":"No more than %d identical characters in a row (e.g., \"%s\" not allowed)","code":"identicalChars","format":[2,"aaa"],"verified":false}"#
        );
        assert!(x.check("abcBcdef1").is_err()); // 9 long
    }

    #[test]
    fn javascript_semantics() {
        // An emoji outside the BMP is two UTF-16 units.
        assert!(p(PolicyLevel::Low).check("ab😀cd").is_ok()); // 4 + 2 = 6
        assert!(p(PolicyLevel::Low).check("abécd").is_err()); // 5 units
        // Non-ASCII letters and digits are not classes.
        assert!(p(PolicyLevel::Good).check("ÄÖÜäöü١٢").is_err());
        // Non-ASCII punctuation is not special.
        assert!(p(PolicyLevel::Good).check("abcdefg§1").is_err()); // lower + number only
    }

    #[test]
    fn min_length_overrides_level_and_message() {
        let pol = Policy {
            level: PolicyLevel::Good,
            min_length: Some(12),
        };
        let e = pol.check("abcDEF123").unwrap_err();
        assert!(e.policy.starts_with("* At least 12 characters in length\n"));
        assert_eq!(e.description["rules"][0]["format"], json!([12]));
        let pol = Policy {
            level: PolicyLevel::Low,
            min_length: Some(1),
        };
        assert_eq!(pol.describe(), "* Non-empty password required");
    }

    #[test]
    fn dictionary_is_case_insensitive_and_custom() {
        assert!(is_common("PASSWORD", &[]));
        assert!(is_common("123456", &[]));
        assert!(!is_common("x9!Qz#tL2v", &[]));
        assert!(is_common("Latchkey1", &["latchkey1".into()]));
        assert_eq!(COMMON.len(), 10_000);
    }

    #[test]
    fn personal_info() {
        assert!(contains_personal_info("xxJohnDoe1", ["johndoe"]));
        assert!(!contains_personal_info("xxJo1", ["jo"])); // too short to count
        assert!(!contains_personal_info("Secret!23", ["john"]));
    }
}
