//! How a product that uses group Managed Service Accounts tests itself against adsim. The
//! "product" here is [`ServiceHost`]: it runs a service as a gMSA and must pick up the new
//! password when AD rotates it. Its tests (`tests/`) start a forest in one line, prepare hosts
//! and accounts with cmdlet-style calls, move the simulated clock, and reset between tests.

use adsim_harness::forest::{Forest, ForestError, ManagedPasswordBlob};

/// A host running one service as a gMSA: it keeps the password it last retrieved and
/// refreshes it when the DC says it has changed (the blob's query interval has run out).
pub struct ServiceHost {
    pub host: String,
    pub gmsa: String,
    pub password: Option<ManagedPasswordBlob>,
}

impl ServiceHost {
    pub fn new(host: &str, gmsa: &str) -> ServiceHost {
        ServiceHost {
            host: host.to_string(),
            gmsa: gmsa.to_string(),
            password: None,
        }
    }

    /// Retrieves the managed password as this host would over LDAPS. Returns whether the
    /// password changed since the last retrieval; an error when the host is not allowed.
    pub fn refresh(&mut self, forest: &Forest) -> Result<bool, String> {
        let blob = forest
            .managed_password_as_host(&self.gmsa, &self.host)
            .map_err(|e: ForestError| e.to_string())?
            .ok_or_else(|| format!("{} may not retrieve the password of {}", self.host, self.gmsa))?;
        let changed = self
            .password
            .as_ref()
            .map(|p| p.current != blob.current)
            .unwrap_or(true);
        self.password = Some(blob);
        Ok(changed)
    }
}
