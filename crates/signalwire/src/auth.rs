//! HTTP Basic credentials of the Compatibility API: Project ID as user, API token as password.

use base64::Engine as _;
use http::HeaderValue;
use omnichannel_core::http::sensitive_header;
use omnichannel_core::{ExposeSecret, Result, SecretString};

/// Project ID and API token. `Debug` shows the project id only.
#[derive(Clone)]
pub struct BasicCredentials {
    project_id: String,
    api_token: SecretString,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("project_id", &self.project_id)
            .field("api_token", &"[redacted]")
            .finish()
    }
}

impl BasicCredentials {
    /// Credentials of a project.
    pub fn new(project_id: impl Into<String>, api_token: SecretString) -> Self {
        BasicCredentials {
            project_id: project_id.into(),
            api_token,
        }
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// `Basic base64(project:token)`, marked sensitive (left out of `Debug` and HTTP/2 tables).
    pub fn header(&self) -> Result<HeaderValue> {
        let raw = format!("{}:{}", self.project_id, self.api_token.expose_secret());
        sensitive_header(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn webhookdb_example() {
        // WebhookDB's spec: proj:swkey -> Basic cHJvajpzd2tleQ== (signalwire.md section 1.2).
        let c = BasicCredentials::new("proj", SecretString::from("swkey"));
        let h = c.header().unwrap();
        assert_eq!(h.to_str().unwrap(), "Basic cHJvajpzd2tleQ==");
        assert!(h.is_sensitive());
        assert!(!format!("{c:?}").contains("swkey"));
    }
}
