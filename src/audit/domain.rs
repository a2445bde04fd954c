//! One pseudonym domain per recipient: the same person has the same pseudonym in every
//! extract of a domain, so two recipients given one domain can link their extracts. A
//! run is checked against the register's earlier runs, before it writes anything and
//! again under the register's lock before its entry is appended:
//!
//! - a domain used by an earlier run for another recipient is refused, unless the
//!   pipeline names that recipient in `pseudonym_domain_shared_with`;
//! - a domain that differs from an earlier run's only in case, width (NFKC) or
//!   surrounding spaces is refused: its pseudonyms would not link with that run's, though
//!   the two look alike.
//!
//! Domains and recipients are compared in their [`folded`] form. Only run entries that
//! hold both `domain` and `recipient` are seen (every version of doel wrote both);
//! re-identifications are not: they make no pseudonyms, and a mistyped `--domain` must
//! not bar a later run.

use std::path::Path;

use super::AuditError;
use super::quoted;
use super::register::Entry;
use crate::spec::{Declaration, folded};

/// A run's use of a pseudonym domain, as its pipeline declares it.
#[derive(Debug, Clone, Copy)]
pub struct DomainUse<'a> {
    pub domain: &'a str,
    pub recipient: &'a str,
    /// Recipients the domain is shared with on purpose.
    pub shared_with: &'a [String],
}

impl<'a> DomainUse<'a> {
    pub fn of(declaration: &'a Declaration) -> Self {
        Self {
            domain: &declaration.pseudonym_domain,
            recipient: &declaration.recipient,
            shared_with: &declaration.pseudonym_domain_shared_with,
        }
    }
}

const SHARED_HINT: &str = "a pseudonym domain serves one recipient: give this pipeline a pseudonym_domain of its own, or, if the extracts are to link, name the other recipient in [pipeline] pseudonym_domain_shared_with (in both pipelines)";
const VARIANT_HINT: &str = "write the domain exactly as the earlier runs did, or choose one that differs from theirs in more than case and spaces";

/// Whether a run that uses the domain as `this` says may follow the `entries` of the
/// register at `path` (named in the refusal).
pub fn check(path: &Path, entries: &[Entry], this: DomainUse) -> Result<(), AuditError> {
    let domain = folded(this.domain);
    let recipient = folded(this.recipient);
    let shared: Vec<String> = this.shared_with.iter().map(|r| folded(r)).collect();
    for entry in entries {
        let text = |key: &str| entry.fields.get(key).and_then(serde_json::Value::as_str);
        if text("kind") != Some("run") {
            continue;
        }
        let (Some(their_domain), Some(their_recipient)) = (text("domain"), text("recipient"))
        else {
            continue;
        };
        if folded(their_domain) != domain {
            continue;
        }
        let refuse = |problem: String, hint| AuditError::Refused {
            path: path.to_owned(),
            problem: format!("entry {}: {problem}", entry.seq),
            hint,
        };
        if their_domain != this.domain {
            return Err(refuse(
                format!(
                    "pseudonym_domain {} differs from {}, used there for recipient {}, only once folded (case, width and compatibility forms, white space): the two give pseudonyms that do not link, though they look alike",
                    quoted(this.domain),
                    quoted(their_domain),
                    quoted(their_recipient)
                ),
                VARIANT_HINT,
            ));
        }
        let theirs = folded(their_recipient);
        if theirs != recipient && !shared.contains(&theirs) {
            return Err(refuse(
                format!(
                    "pseudonym_domain {} is used there for recipient {}, and this pipeline's recipient is {}: their extracts would link through the pseudonyms",
                    quoted(this.domain),
                    quoted(their_recipient),
                    quoted(this.recipient)
                ),
                SHARED_HINT,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn entries(list: &[Value]) -> Vec<Entry> {
        list.iter()
            .enumerate()
            .map(|(i, v)| Entry {
                seq: i as u64 + 1,
                sha256: String::new(),
                fields: v.as_object().unwrap().clone(),
                line: Vec::new(),
            })
            .collect()
    }

    fn run(domain: &str, recipient: &str) -> Value {
        json!({"kind": "run", "domain": domain, "recipient": recipient})
    }

    fn check_use(list: &[Value], domain: &str, recipient: &str, shared: &[&str]) -> String {
        let shared: Vec<String> = shared.iter().map(|s| s.to_string()).collect();
        match check(
            Path::new("r.jsonl"),
            &entries(list),
            DomainUse {
                domain,
                recipient,
                shared_with: &shared,
            },
        ) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_domain_serves_one_recipient_unless_shared_on_purpose() {
        let earlier = [run("umc", "UMC Jeugd"), run("gemeente", "Gemeente")];
        assert_eq!(check_use(&earlier, "umc", "UMC Jeugd", &[]), "ok");
        // The same recipient written with other case and spaces is the same recipient.
        assert_eq!(check_use(&earlier, "umc", " umc jeugd", &[]), "ok");
        assert_eq!(check_use(&earlier, "nieuw", "Gemeente", &[]), "ok");
        let refused = check_use(&earlier, "umc", "Gemeente", &[]);
        assert_eq!(
            refused,
            "register r.jsonl, entry 1: pseudonym_domain \"umc\" is used there for recipient \"UMC Jeugd\", and this pipeline's recipient is \"Gemeente\": their extracts would link through the pseudonyms"
        );
        assert_eq!(check_use(&earlier, "umc", "Gemeente", &["umc jeugd"]), "ok");
        assert!(check_use(&earlier, "umc", "Gemeente", &["UMC"]).contains("entry 1"));
    }

    #[test]
    fn a_domain_that_only_looks_like_an_earlier_one_is_refused() {
        let earlier = [
            json!({"kind": "reidentify", "domain": "Umc"}),
            run("umc", "UMC Jeugd"),
        ];
        let refused = check_use(&earlier, "UMC", "UMC Jeugd", &[]);
        assert!(
            refused.starts_with(
                "register r.jsonl, entry 2: pseudonym_domain \"UMC\" differs from \"umc\""
            ),
            "{refused}"
        );
        assert!(check_use(&earlier, "ｕｍｃ", "UMC Jeugd", &[]).contains("differs from"));
        // A re-identification's domain is not a run's: it bars nothing.
        assert_eq!(check_use(&earlier[..1], "umc", "UMC Jeugd", &[]), "ok");
    }

    #[test]
    fn register_text_is_escaped_in_the_refusal() {
        let earlier = [run("umc", "Evil\u{1b}[2J\nok")];
        let refused = check_use(&earlier, "umc", "UMC", &[]);
        assert!(
            refused.contains("\"Evil\\u{001b}[2J\\u{000a}ok\""),
            "{refused}"
        );
        // Entries without the fields (not written by doel) are not seen.
        assert_eq!(
            check_use(&[json!({"kind": "run"})], "umc", "UMC", &[]),
            "ok"
        );
    }
}
