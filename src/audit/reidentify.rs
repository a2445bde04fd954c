//! Re-identification (`doel reidentify`): tokens opened under the key of one domain, and
//! every use recorded in the register — who (the OS user), when, why, how many tokens and
//! their hashes — before a single value is handed back.

use std::path::Path;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::AuditError;
use super::register::{self, Appended};
use super::signing::SigningSecret;
use crate::kernels::keys::MasterKey;
use crate::spec::PseudonymKind;

/// What a token opened to: the kind of value (`bsn`, `name`, `link`) and its canonical
/// bytes (wiped when dropped); `None` where no kind's key opens it.
pub type Opened = Option<(&'static str, Zeroizing<Vec<u8>>)>;

/// The tokens opened, in the order given, and the register entry recording the use.
pub struct Reidentified {
    pub opened: Vec<Opened>,
    pub entry: Appended,
}

impl Reidentified {
    pub fn failed(&self) -> usize {
        self.opened.iter().filter(|o| o.is_none()).count()
    }
}

/// Open each token in `domain` and register the use with `reason` (the entry signed with
/// `signing` when given). Nothing is opened for the caller unless the entry is written.
pub fn reidentify(
    key: &MasterKey,
    signing: Option<&SigningSecret>,
    domain: &str,
    reason: &str,
    register_path: &Path,
    tokens: &[String],
) -> Result<Reidentified, AuditError> {
    let kinds = [PseudonymKind::Bsn, PseudonymKind::Name, PseudonymKind::Link];
    let tokenisers: Vec<_> = kinds
        .iter()
        .map(|k| (k.as_str(), key.tokeniser(domain, k.as_str())))
        .collect();
    let opened: Vec<Opened> = tokens
        .iter()
        .map(|token| {
            tokenisers
                .iter()
                .find_map(|(kind, t)| t.open(token.trim()).map(|v| (*kind, v)))
        })
        .collect();
    let failed = opened.iter().filter(|o| o.is_none()).count();
    let operator = super::operator();
    let body = json!({
        "kind": "reidentify",
        "time": super::now_utc(),
        "domain": domain,
        "reason": reason,
        "operator": operator.name,
        "operator_uid": operator.uid,
        "tokens": tokens.len(),
        "opened": tokens.len() - failed,
        "token_sha256": tokens.iter().map(|t| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(t.trim().as_bytes()))).collect::<Vec<_>>(),
        "key_fingerprint": key.fingerprint(),
    });
    let Value::Object(body) = body else {
        unreachable!("json! of an object")
    };
    let entry = register::append(register_path, body, signing)?;
    Ok(Reidentified { opened, entry })
}
